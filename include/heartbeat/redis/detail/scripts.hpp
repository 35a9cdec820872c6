// Copyright (c) 2026 The heartbeat authors. Distributed under the Boost
// Software License, Version 1.0 (see LICENSE).
#ifndef HEARTBEAT_REDIS_DETAIL_SCRIPTS_HPP
#define HEARTBEAT_REDIS_DETAIL_SCRIPTS_HPP

// The Lua scripts behind every presence change. A script runs atomically in
// Redis, which is what makes the guarantees of docs/CLUSTER.md hold:
//  - a gateway only ever removes a record it owns (a peer that moved on
//    stays online where it is);
//  - each peer of a dead gateway is released by exactly one survivor (SPOP
//    from the dead gateway's peer set hands it out once);
//  - when the owner lets go of a peer that another live gateway still
//    holds a session for, the record moves there instead of going offline.
//
// Keys, all under the hash tag "{prefix}" (ARGV[1]):
//   {p}:presence        hash  peer -> "gateway \t since_ms"
//   {p}:gateways        set   gateways that hold a lease, or held one and
//                             are not reaped yet
//   {p}:lease:<gw>      str   the gateway's incarnation token, with a TTL
//   {p}:peers:<gw>      set   peers the gateway holds a session for
//   {p}:events          channel (see types.hpp: parse_event)

namespace heartbeat::redis::detail::scripts {

// ARGV[1] is always the prefix.
inline constexpr const char* prelude = R"lua(
local P = '{' .. ARGV[1] .. '}:'
local PRESENCE = P .. 'presence'
local GATEWAYS = P .. 'gateways'
local function lease(g) return P .. 'lease:' .. g end
local function peers(g) return P .. 'peers:' .. g end
local function split(v)
  local t = string.find(v, '\t', 1, true)
  return string.sub(v, 1, t - 1), string.sub(v, t + 1)
end
local function publish(kind, reason, gw, from, at, id)
  redis.call('PUBLISH', P .. 'events',
    'v1\t' .. kind .. '\t' .. reason .. '\t' .. gw .. '\t' .. from .. '\t' .. at .. '\t' .. id)
end
-- gw holds a session for id from `since`. 0: no change, 1: online, 2: moved.
local function take(id, gw, since)
  redis.call('SADD', peers(gw), id)
  local cur = redis.call('HGET', PRESENCE, id)
  if cur then
    local owner, s = split(cur)
    if owner == gw then return 0 end
    if tonumber(s) > tonumber(since) and redis.call('EXISTS', lease(owner)) == 1 then
      return 0 -- a newer session on a live gateway keeps it
    end
    redis.call('HSET', PRESENCE, id, gw .. '\t' .. since)
    publish('moved', 'none', gw, owner, since, id)
    return 2
  end
  redis.call('HSET', PRESENCE, id, gw .. '\t' .. since)
  publish('online', 'none', gw, '', since, id)
  return 1
end
-- gw (the owner) lets go of id: hand it to another live gateway holding a
-- session, or take it offline. 1: offline, 2: moved.
local function release(id, gw, reason, at)
  for _, g in ipairs(redis.call('SMEMBERS', GATEWAYS)) do
    if g ~= gw and redis.call('SISMEMBER', peers(g), id) == 1
       and redis.call('EXISTS', lease(g)) == 1 then
      redis.call('HSET', PRESENCE, id, g .. '\t' .. at)
      publish('moved', 'none', g, gw, at, id)
      return 2
    end
  end
  redis.call('HDEL', PRESENCE, id)
  publish('offline', reason, gw, '', at, id)
  return 1
end
local function owned_by(id, gw)
  local cur = redis.call('HGET', PRESENCE, id)
  return cur and (split(cur)) == gw
end
)lua";

/// ARGV: prefix, gateway, peer, since_ms.
inline constexpr const char* online = R"lua(
return take(ARGV[3], ARGV[2], ARGV[4])
)lua";

/// ARGV: prefix, gateway, peer, reason, at_ms.
inline constexpr const char* offline = R"lua(
local gw, id = ARGV[2], ARGV[3]
redis.call('SREM', peers(gw), id)
if not owned_by(id, gw) then return 0 end
return release(id, gw, ARGV[4], ARGV[5])
)lua";

/// Renews the lease and reaps dead gateways, at most `batch` peers per
/// call: a dead gateway stays in the gateway set until its peer set is
/// empty, and SPOP hands each of its peers to exactly one caller, so any
/// number of survivors can share the work and no peer is released twice.
/// One script over a whole large gateway would hold Redis for seconds
/// (and past busy-reply-threshold every client gets BUSY).
/// ARGV: prefix, gateway, token, ttl_ms, now_ms, batch.
/// Returns {lease_held, gateways_reaped, more_to_reap}.
inline constexpr const char* tick = R"lua(
local gw, token, ttl, now, budget = ARGV[2], ARGV[3], ARGV[4], ARGV[5], tonumber(ARGV[6])
if redis.call('GET', lease(gw)) ~= token or redis.call('SISMEMBER', GATEWAYS, gw) == 0 then
  return {0, 0, 0}
end
redis.call('PEXPIRE', lease(gw), ttl)
local reaped, more = 0, 0
for _, g in ipairs(redis.call('SMEMBERS', GATEWAYS)) do
  if g ~= gw and redis.call('EXISTS', lease(g)) == 0 then
    if budget <= 0 then more = 1; break end
    local ids = redis.call('SPOP', peers(g), budget)
    budget = budget - #ids
    for _, id in ipairs(ids) do
      if owned_by(id, g) then release(id, g, 'gateway_lost', now) end
    end
    if redis.call('SCARD', peers(g)) == 0 then
      redis.call('SREM', GATEWAYS, g)
      reaped = reaped + 1
    else
      more = 1
    end
  end
end
return {1, reaped, more}
)lua";

/// Takes (or retakes) the lease and makes Redis agree with the gateway's
/// own view: peers it no longer holds are released with `reason`, the rest
/// taken. ARGV: prefix, gateway, token, ttl_ms, now_ms, reason, then
/// peer, since_ms pairs. Returns {released, taken}.
///
/// A lease that already carries this token means an earlier resync of the
/// same incarnation ran, though the gateway never heard back (its first
/// one asks for gateway_lost): what is released then is its own, resynced.
inline constexpr const char* resync = R"lua(
local gw, token, ttl, now, reason = ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
if redis.call('GET', lease(gw)) == token then reason = 'resynced' end
redis.call('SET', lease(gw), token, 'PX', ttl)
redis.call('SADD', GATEWAYS, gw)
local held = {}
for i = 7, #ARGV, 2 do held[ARGV[i]] = ARGV[i + 1] end
local released, taken = 0, 0
for _, id in ipairs(redis.call('SMEMBERS', peers(gw))) do
  if not held[id] then
    redis.call('SREM', peers(gw), id)
    if owned_by(id, gw) then release(id, gw, reason, now); released = released + 1 end
  end
end
for i = 7, #ARGV, 2 do
  if take(ARGV[i], gw, ARGV[i + 1]) ~= 0 then taken = taken + 1 end
end
return {released, taken}
)lua";

/// A clean exit: releases every peer (reason shutdown) and the lease.
/// ARGV: prefix, gateway, token, now_ms.
inline constexpr const char* leave = R"lua(
local gw, token, now = ARGV[2], ARGV[3], ARGV[4]
if redis.call('GET', lease(gw)) ~= token then return 0 end
for _, id in ipairs(redis.call('SMEMBERS', peers(gw))) do
  if owned_by(id, gw) then release(id, gw, 'shutdown', now) end
end
redis.call('DEL', peers(gw), lease(gw))
redis.call('SREM', GATEWAYS, gw)
return 1
)lua";

} // namespace heartbeat::redis::detail::scripts

#endif
