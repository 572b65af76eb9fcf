/**
 * A Lua action for HAProxy: removes the headers that a Connection header names (RFC 9110 §7.6.1:
 * they are meant for one hop only). HAProxy removes Connection itself and handles Upgrade,
 * Transfer-Encoding and TE; the rules only call this when Connection names something else.
 */
export const HOP_BY_HOP_LUA = `-- Written by the Sidecar PaaS router (router/src/haproxy/hop-by-hop.lua.ts).
local keep = { ["close"] = true, ["keep-alive"] = true, ["upgrade"] = true }

local function named(values)
  local out = {}
  for _, value in pairs(values or {}) do
    for token in string.gmatch(value, "[^,]+") do
      local name = string.lower((token:gsub("^%s+", ""):gsub("%s+$", "")))
      if name ~= "" and not keep[name] then out[#out + 1] = name end
    end
  end
  return out
end

core.register_action("drop_connection_headers_req", { "http-req" }, function(txn)
  for _, name in ipairs(named(txn.http:req_get_headers()["connection"])) do txn.http:req_del_header(name) end
end, 0)

core.register_action("drop_connection_headers_res", { "http-res" }, function(txn)
  for _, name in ipairs(named(txn.http:res_get_headers()["connection"])) do txn.http:res_del_header(name) end
end, 0)
`;
