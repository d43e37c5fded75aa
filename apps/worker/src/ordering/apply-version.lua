-- apply-version.lua: applies a version to a record only when it is newer, keeps deletions final
-- and, when a forward is wanted, takes the record's forward lock. Run by versioned-store.ts (the
-- why, and the two orderings, are there). Tested case by case in test/apply-version.int.test.ts.
--
-- KEYS: record, forward lock, delivery pin [, live index]
-- ARGV: version, delivery key, now (ms), deletion ('0' live, '1' final, 'p' provisional), lock
--       token ('' for no forward), lock ttl (ms), pin ttl (s, '0' for no pin), ordering ('state',
--       'event', 'announce'), record ttl (s, '0' for none), id, clock (the suffix of this clock's
--       fields: '', '_p', '_r', '_a'), then field/value pairs stored with the version
-- Answers {outcome, forward gate, version applied}: the outcomes and gates of ApplyOutcome and
-- ForwardGate in versioned-store.ts.
-- Given by loadScript, from contracts' VERSION_FORMAT (versions.ts), so that the format is spelt
-- there alone: LIVE_STATE, PAYLOAD_TIME_DIGITS, ACCEPTED_AT_DIGITS, PAYLOAD_TIME_END,
-- ACCEPTED_AT_END, API_SUFFIX, GONE_TIE_BREAK, REVIVED_TIE_BREAK.
local record, lock, delivery, liveIndex = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local version, key, now, deletion, lockToken, lockTtl, pinTtl, ordering, recordTtl, id, clock =
  ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8], ARGV[9], ARGV[10], ARGV[11]
local deleting = deletion ~= '0'
-- An announcement: ordered as a state, but forwarded once per delivery even when its state was.
local announce = ordering == 'announce'
if announce then ordering = 'state' end
local versionField, forwardedField, keyField = 'version' .. clock, 'forwarded_version' .. clock, 'last_key' .. clock

-- A delivery with an id: its first job's version stands for every later job of it.
-- (One command: SET … NX GET answers the pinned version, or sets this one.)
if pinTtl ~= '0' then
  local first = redis.call('SET', delivery, version, 'NX', 'GET', 'EX', pinTtl)
  if first then version = first end
end

local stored = redis.call('HMGET', record, versionField, 'deleted', 'index_key', forwardedField, 'updated_at_ms', keyField,
  'pending_version' .. clock, 'provisional')
local storedVersion, deleted, indexKey, forwarded = stored[1] or '', stored[2] == '1', stored[3], stored[4] or ''
-- A deletion that rests on a 404 alone: ordered like any state, so a later live state supersedes it.
local final = deleted and stored[8] ~= '1'
-- The newest version whose forward timed out: it may have reached the target (events only).
local pending = stored[7] or ''
-- A customer written before versions existed: its legacy updated_at (ms) still orders it, as a
-- live state of that payload time (in ns), accepted at zero, without a tie-break.
if storedVersion == '' and stored[5] and stored[5] ~= '' then
  local nanos = stored[5] .. '000000'
  storedVersion = LIVE_STATE .. '.' .. string.rep('0', PAYLOAD_TIME_DIGITS - #nanos) .. nanos .. '.'
    .. string.rep('0', ACCEPTED_AT_DIGITS) .. '.'
end

-- Whether version a supersedes b: an API-read state beats a webhook one, otherwise the later wins.
local function fromApi(v) return string.sub(v, -#API_SUFFIX) == API_SUFFIX end
local function supersedes(a, b)
  if fromApi(a) and not fromApi(b) then return true end
  return a > b
end
-- Whether a is older than b: for events, by payload time alone (the deletion flag and the payload
-- time, up to PAYLOAD_TIME_END).
local function older(a, b)
  if ordering == 'event' then return string.sub(a, 1, PAYLOAD_TIME_END) < string.sub(b, 1, PAYLOAD_TIME_END) end
  return not supersedes(a, b)
end

-- A live API state of the very time of a provisional deletion (the entity was not gone: the 404s
-- lied) supersedes it: it takes the deletion's version with its trailing GONE_TIE_BREAK made
-- REVIVED_TIE_BREAK, which sorts after it, here and at the forward target. The very time: both
-- times equal, up to ACCEPTED_AT_END. A live state of an earlier time is a read behind: stale, as
-- any.
if deleted and not final and deletion == '0' and fromApi(version)
  and string.sub(storedVersion, -#GONE_TIE_BREAK) == GONE_TIE_BREAK
  and string.sub(version, 1, ACCEPTED_AT_END) == string.sub(storedVersion, 1, ACCEPTED_AT_END) then
  version = string.sub(storedVersion, 1, -#GONE_TIE_BREAK - 1) .. REVIVED_TIE_BREAK
end

local outcome
if final and (deletion ~= '1' or version ~= storedVersion) then
  -- Nothing after a deletion but a retry of the deletion itself: no live event, whatever its
  -- clock (a retry of one stored before it too), and no second deletion.
  return {'skipped_tombstone', 'none', version}
elseif version == storedVersion then
  -- This delivery's own version (an earlier try stored it), or the same state from another one.
  outcome = stored[6] == key and 'current' or 'unchanged'
elseif ordering == 'state' and older(version, storedVersion) then
  return {'skipped_stale', 'none', version}
else
  outcome = 'applied'
  if supersedes(version, storedVersion) then
    -- The index follows the record: out of the old set (changed external id, or deletion), into
    -- the new one's. (Every set shares the prefix's hash tag.)
    if indexKey and (deleting or indexKey ~= liveIndex) then redis.call('SREM', indexKey, id) end
    -- One HSET for the version, the fields (what a record shows besides, the customer store's id,
    -- time and data: an order mark keeps only what orders it) and the index key. (An order mark's
    -- fields and a tombstone's stay under Lua's stack limit for unpack: a handful of pairs.)
    local values = {keyField, key, versionField, version}
    for i = 12, #ARGV do values[#values + 1] = ARGV[i] end
    if liveIndex and not deleting then
      values[#values + 1] = 'index_key'
      values[#values + 1] = liveIndex
    end
    redis.call('HSET', record, unpack(values))
    if deleting then
      -- A deletion keeps what ordering needs, nothing personal: the state's data and the external
      -- id (in the record and in the index key's name) go. The caller sends neither.
      redis.call('HDEL', record, 'customer', 'external_id', 'index_key')
      if not deleted then redis.call('HSET', record, 'deleted', '1', 'deleted_at', now) end
      if deletion == 'p' then redis.call('HSET', record, 'provisional', '1')
      else redis.call('HDEL', record, 'provisional') end
      if liveIndex then redis.call('SREM', liveIndex, id) end
    else
      -- A live state over a provisional deletion: the entity is back.
      if deleted then redis.call('HDEL', record, 'deleted', 'deleted_at', 'provisional') end
      if liveIndex then redis.call('SADD', liveIndex, id) end
    end
  end
end
-- A tombstone is kept for good: it is small, and a replay long after must not revive the entity.
-- Any other record lives recordTtl past its last event.
if deleting or final then redis.call('PERSIST', record)
elseif recordTtl ~= '0' then redis.call('EXPIRE', record, recordTtl) end

if lockToken == '' then return {outcome, 'none', version} end
if forwarded ~= '' and forwarded == version and not announce then return {outcome, 'already', version} end
if ordering == 'state' then
  -- A newer state was acknowledged (and is stored). (An announcement goes out with the state
  -- acknowledged last, once more.)
  if forwarded ~= '' and older(version, forwarded) and not (announce and version == forwarded) then
    return {outcome, 'already', version}
  end
else
  -- A newer event was acknowledged, or may have reached the target (its forward timed out): this
  -- one going out now could put the target back.
  local newest = forwarded
  if pending > newest then newest = pending end
  if newest ~= '' and newest ~= version and older(version, newest) then return {'skipped_stale', 'none', version} end
end
if redis.call('SET', lock, lockToken, 'NX', 'PX', lockTtl) then return {outcome, 'locked', version} end
-- Ours already: this very call, sent again by the client after a dropped connection.
if redis.call('GET', lock) == lockToken then return {outcome, 'locked', version} end
return {outcome, 'busy', version}
