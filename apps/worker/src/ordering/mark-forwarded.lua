-- mark-forwarded.lua: after the target's 2xx, remembers the newest acknowledged version (of its
-- clock) and lets go of the forward lock. With 'pending', the forward timed out instead: remembers
-- the version as one that may have reached the target, and keeps the lock (it lapses by itself).
-- Run by versioned-store.ts; tested case by case in test/mark-forwarded.int.test.ts.
--
-- KEYS: record, forward lock
-- ARGV: version, lock token, clock (the suffix of its fields: '', '_p', '_r', '_a'),
--       'acknowledged' or 'pending', record ttl (s, '0' for none)
-- Answers 1.
local field = (ARGV[4] == 'pending' and 'pending_version' or 'forwarded_version') .. ARGV[3]
local forwarded = redis.call('HGET', KEYS[1], field)
if not forwarded or forwarded < ARGV[1] then redis.call('HSET', KEYS[1], field, ARGV[1]) end
-- The record may have expired since it was applied: the fields just written must not outlive it.
if ARGV[5] ~= '0' and redis.call('HGET', KEYS[1], 'deleted') ~= '1' then redis.call('EXPIRE', KEYS[1], ARGV[5]) end
if ARGV[4] == 'pending' then return 1 end
if redis.call('GET', KEYS[2]) == ARGV[2] then redis.call('DEL', KEYS[2]) end
return 1
