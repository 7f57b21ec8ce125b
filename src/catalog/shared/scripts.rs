//! The Lua scripts the shared tier runs in Redis, each atomic on the server.

/// Reads values, leaving out (as missing) any over `ARGV[1]` bytes: they never cross the wire.
pub const READ_SCRIPT: &str = r"
local values = {}
for i, key in ipairs(KEYS) do
  local value = redis.call('GET', key)
  if value and string.len(value) > tonumber(ARGV[1]) then value = false end
  values[i] = value
end
return values
";

/// A waiter's look: the value (capped like `READ_SCRIPT`) and the lock. A lock without an expiry
/// is none of ours (ours always expire) and would hold every waiter of the fleet: it goes.
pub const POLL_SCRIPT: &str = r"
local value = redis.call('GET', KEYS[1])
if value and string.len(value) > tonumber(ARGV[1]) then value = false end
local lock = redis.call('GET', KEYS[2])
if lock and redis.call('PTTL', KEYS[2]) == -1 then
  redis.call('DEL', KEYS[2])
  lock = false
end
return {value, lock}
";

/// Releases a lock only if it still holds the caller's token (it may have expired and been
/// taken by another instance), leaving `ARGV[2]` in its place for `ARGV[3]` ms if given.
pub const RELEASE_SCRIPT: &str = r"
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] == '' then return redis.call('DEL', KEYS[1]) end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
";
