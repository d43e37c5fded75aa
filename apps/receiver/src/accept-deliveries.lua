-- accept-deliveries.lua: accepts the deliveries of one queue that arrived in one turn of the event
-- loop, atomically, on the queue's node (every key shares the queue's hash tag). Run by
-- acceptance.ts; the why is there. Tested case by case in test/accept-deliveries.int.test.ts.
--
-- KEYS: the clock (on one server the family's, whatever QUEUE_SHARDS; on a sharded cluster the
--       shard's), then per delivery its entity's latest-delivery mark (the clock again when not
--       native).
-- ARGV: the dedupe key prefix, the mark ttl (s), then per delivery: native ('1'/'0'), content
--       hash, the new job's id.
-- Answers four values per delivery: stamp, verdict ('new', 'duplicate', 'error'), job id (or the
-- error), key ('' when the delivery's own key stands). A mark that fails (a key of the wrong type)
-- fails its own delivery only; a clock that fails fails the call.
-- Given by loadScript, from contracts' versions.ts: ACCEPTED_AT_DIGITS (a stamp is the `accepted
-- at` of a version).
local count = #KEYS - 1
local STAMP = '%0' .. ACCEPTED_AT_DIGITS .. '.0f'
-- Redis' clock in µs, never at or below the queue's clock (a high-water mark, forward only).
local time = redis.call('TIME')
local base = tonumber(time[1]) * 1000000 + tonumber(time[2])
local high = redis.call('GET', KEYS[1])
if high and tonumber(high) >= base then base = tonumber(high) + 1 end
redis.call('SET', KEYS[1], string.format(STAMP, base + count - 1))

local function failed(reply) return type(reply) == 'table' and reply.err end
local out = {}
for i = 1, count do
  local stamp = string.format(STAMP, base + i - 1)
  local native, content, jobId = ARGV[3 * i], ARGV[3 * i + 1], ARGV[3 * i + 2]
  local verdict, id, key = 'new', jobId, ''
  if native == '1' then
    local markKey = KEYS[i + 1]
    local mark = redis.pcall('GET', markKey)
    if failed(mark) then
      verdict, id = 'error', mark.err
    else
      -- A chain starts from its acceptance time, so that it never repeats a key of an earlier one.
      local previous = 'start ' .. stamp
      if mark then
        -- A mark: '<stamp>.<job id> <content hash> <job id> <key>'.
        local markedContent, markedJob, markedKey = string.match(mark, '^%S+ (%S+) (%S+) (%S+)$')
        if markedContent == content then
          -- The same bytes as the latest: a duplicate once its job exists; before that (its add is
          -- in flight, or failed) the same key, so that BullMQ's dedupe keeps the two to one job.
          if redis.call('EXISTS', ARGV[1] .. markedKey) == 1 then verdict, id = 'duplicate', markedJob end
          key = markedKey
        elseif markedKey then
          previous = markedKey
        end
      end
      if key == '' then
        key = 'nat-' .. redis.sha1hex(content .. '\n' .. previous)
        redis.call('SET', markKey, stamp .. '.' .. jobId .. ' ' .. content .. ' ' .. jobId .. ' ' .. key, 'EX', ARGV[2])
      end
    end
  end
  out[#out + 1] = stamp
  out[#out + 1] = verdict
  out[#out + 1] = id
  out[#out + 1] = key
end
return out
