-- release-forward-lock.lua: a forward failed; lets go of the forward lock if it is still this
-- token's (a lock that lapsed may be another forward's by now). Run by versioned-store.ts; tested
-- case by case in test/release-forward-lock.int.test.ts.
--
-- KEYS: forward lock
-- ARGV: lock token
-- Answers 1 when it released the lock, else 0.
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
