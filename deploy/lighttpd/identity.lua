-- identity.lua - hand the identity ocigate decided on to the proxied registry.
--
-- lighttpd 1.4 (mod_magnet, package lighttpd-modules-lua), loaded with
--   magnet.attract-raw-url-to = ( "/etc/lighttpd/ocigate/identity.lua" )
-- in ocigate-authorizer.conf / ocigate-external.conf.
--
-- Why: ocigate answers an allowed request with Variable-OCIGATE_USER,
-- Variable-OCIGATE_GROUPS and Variable-OCIGATE_AUTH. lighttpd stores them in
-- the request environment, but mod_proxy never forwards that environment, and
-- it forwards every header the client sent unchanged. A client could therefore
-- send "X-Ocigate-User: admin" itself. This script runs on both passes of a
-- request:
--   pass 1 (before the authorizer): no OCIGATE_* variables exist yet, so the
--          client's X-Ocigate-* headers are deleted;
--   pass 2 (after ocigate said 200, lighttpd restarts the request): the
--          headers are set from the variables ocigate returned.
-- A request ocigate denied never reaches pass 2, and one that lighttpd does
-- not send to ocigate at all never carries a client-made X-Ocigate-* header.
--
-- ocigate itself decides on the Authorization header only; these headers are
-- information for the registry (logs, a registry that trusts a header), never
-- an input to ocigate.

local r = lighty.r
local names = {
  { env = "OCIGATE_USER",   header = "X-Ocigate-User" },
  { env = "OCIGATE_GROUPS", header = "X-Ocigate-Groups" },
  { env = "OCIGATE_AUTH",   header = "X-Ocigate-Auth" },
}

-- OCIGATE_AUTH is set (non-empty: anonymous, htpasswd, apikey, openid) on
-- every allow, so it marks the pass after the authorizer.
local auth = r.req_env["OCIGATE_AUTH"]
local allowed = auth ~= nil and auth ~= ""

for _, n in ipairs(names) do
  -- Always drop whatever the client sent first.
  r.req_header[n.header] = nil
  if allowed then
    local v = r.req_env[n.env]
    if v ~= nil and v ~= "" then
      r.req_header[n.header] = v
    end
  end
end

return 0
