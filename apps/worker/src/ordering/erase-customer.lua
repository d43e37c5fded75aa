-- erase-customer.lua: erasure on request (`pnpm customers erase`): the record becomes a final
-- tombstone without personal data, out of every index, kept for good. Run by customer-store.ts;
-- tested case by case in test/erase-customer.int.test.ts.
--
-- KEYS: record, then (when known) its live set, the set of older tombstones, the older string index
-- ARGV: id, now (ms), the version of a tombstone made for a record that did not exist
-- Answers 1 when a record existed, else 0.
local record, id, now = KEYS[1], ARGV[1], ARGV[2]
local existed = redis.call('EXISTS', record)
local indexKey = redis.call('HGET', record, 'index_key')
if indexKey then redis.call('SREM', indexKey, id) end
if KEYS[2] then
  redis.call('SREM', KEYS[2], id)
  redis.call('SREM', KEYS[3], id)
  if redis.call('GET', KEYS[4]) == id then redis.call('DEL', KEYS[4]) end
end
redis.call('HDEL', record, 'customer', 'external_id', 'index_key', 'provisional')
redis.call('HSET', record, 'id', id, 'last_event_type', 'customer.deleted')
if redis.call('HGET', record, 'deleted') ~= '1' then redis.call('HSET', record, 'deleted', '1', 'deleted_at', now) end
if not redis.call('HGET', record, 'version') then redis.call('HSET', record, 'version', ARGV[3], 'applied_at', now) end
redis.call('PERSIST', record)
return existed
