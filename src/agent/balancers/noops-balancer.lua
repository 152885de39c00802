-- noops' nginx balancer (issue 16, docs/balancers.md "nginx without reloads"): nginx picks each
-- request's upstream peer here (balancer_by_lua_block) from the pool the noops agent sets through a
-- control location (content_by_lua_block), kept in a lua_shared_dict: a change reaches every worker
-- at its next request, with no reload (a reload closes the old workers' idle kept-alive clients).
--
-- A pool is the text of the upstream file noops writes (one `server ADDR:PORT[ down]; # ID STATE`
-- line per member): the agent PUTs it to the control location, and `load` reads the file when nginx
-- starts, so a cold nginx has the pool before the agent speaks (a reload keeps the dict). Ready members take the
-- requests in turn (round robin, per worker); drain and maint ones take none. A connect error or a
-- timeout tries another ready member (set_more_tries; proxy_next_upstream error timeout). Requests
-- in flight are counted per member (incremented here, decremented by `log`), so that a drain can
-- wait until a member's last request has ended.
--
-- nginx.conf (printed for a pool by `noops lb nginx-conf NAME`):
--   lua_shared_dict noops_pools 1m;
--   init_by_lua_block { <this file>; require("noops_balancer").load("web", "/etc/nginx/noops/web.conf") }
--   log_by_lua_block { require("noops_balancer").log() }
--   upstream web { server 0.0.0.1; balancer_by_lua_block { require("noops_balancer").balance("web") } }
--   server { listen 127.0.0.1:8091; location /noops/ { content_by_lua_block { require("noops_balancer").control() } } }

local M = {}

-- the lua_shared_dict that holds every pool, their versions and the requests in flight
M.DICT = "noops_pools"

local STATES = { ready = true, drain = true, maint = true }
-- per worker: each pool as last parsed, with its round-robin cursor
local cache = {}
-- per worker: whether this worker's log phase has run (then the counts are kept by every request's end)
local logged = false

local function dict()
  local d = ngx.shared[M.DICT]
  if not d then
    error("noops: no lua_shared_dict " .. M.DICT .. " (add `lua_shared_dict " .. M.DICT .. " 1m;` to the http block)")
  end
  return d
end

local function conn_key(pool, id)
  return "c:" .. pool .. ":" .. id
end

-- The members of a pool's text, or nil and why: `upstream NAME {` (NAME: the pool's upstream), then
-- one `server` line per member. An empty pool is the line `server 127.0.0.1:1 down; # no members`.
function M.parse(text, pool)
  local members = {}
  local named
  for line in string.gmatch(text, "[^\n]+") do
    local upstream = string.match(line, "^%s*upstream%s+([%w_.%-]+)%s*{%s*$")
    if upstream then
      if named or (pool and upstream ~= pool) then
        return nil, "the text is of the upstream " .. upstream .. ", not " .. tostring(pool)
      end
      named = upstream
    elseif string.match(line, "^%s*server%s") and not string.match(line, "#%s*no members%s*$") then
      local where, down, id, state = string.match(line, "^%s*server%s+([^%s;]+)%s*(%a*)%s*;%s*#%s*([%w_.:%-]+)%s+(%a+)%s*$")
      if not where or not STATES[state] or (down ~= "" and down ~= "down") then
        return nil, "cannot read the line: " .. line
      end
      if (down == "down") ~= (state ~= "ready") then
        return nil, "a " .. state .. " member is " .. (down == "down" and "down" or "not down") .. ": " .. line
      end
      local addr, port = string.match(where, "^(%[[%x:.]+%]):(%d+)$")
      if not addr then
        addr, port = string.match(where, "^(%d+%.%d+%.%d+%.%d+):(%d+)$")
      end
      port = tonumber(port)
      if not addr or not port or port < 1 or port > 65535 then
        return nil, "not ADDR:PORT: " .. line
      end
      members[#members + 1] = { id = id, addr = addr, port = port, state = state }
    end
  end
  if not named then
    return nil, "no `upstream NAME {` line: not a pool written by noops"
  end
  return members
end

-- Keeps a pool's text (already parsed) in the dict; a new version only when it changed.
local function store(pool, text)
  local d = dict()
  if d:get("p:" .. pool) == text then
    return true
  end
  local ok, err = d:set("p:" .. pool, text)
  if not ok then
    return nil, "cannot keep the pool in lua_shared_dict " .. M.DICT .. ": " .. tostring(err)
  end
  d:incr("v:" .. pool, 1, 0)
  return true
end

-- The pool as this worker sees it: parsed again when its version moved.
local function current(pool)
  local d = dict()
  local version = d:get("v:" .. pool) or 0
  local held = cache[pool]
  if held and held.version == version then
    return held
  end
  local members = M.parse(d:get("p:" .. pool) or "") or {}
  local ready = {}
  for _, m in ipairs(members) do
    if m.state == "ready" then
      ready[#ready + 1] = m
    end
  end
  held = { version = version, members = members, ready = ready, next = (#ready > 0) and math.random(#ready) or 0 }
  cache[pool] = held
  return held
end

-- Called in init_by_lua (nginx's start and every reload): a cold nginx (an empty dict) takes the
-- pool the agent last wrote in its file; a reload keeps what the agent last set (the dict lives on).
function M.load(pool, file)
  if dict():get("p:" .. pool) ~= nil then
    return
  end
  local f, err = io.open(file, "r")
  if not f then
    ngx.log(ngx.WARN, "noops: pool ", pool, ": cannot read ", file, " (", err, "): empty until the agent sets it")
    return
  end
  local text = f:read("*a")
  f:close()
  local members, why = M.parse(text, pool)
  if not members then
    ngx.log(ngx.ERR, "noops: pool ", pool, ": ", file, ": ", why)
    return
  end
  local ok, serr = store(pool, text)
  if not ok then
    ngx.log(ngx.ERR, "noops: pool ", pool, ": ", serr)
  end
end

local function release(ctx)
  if ctx.noops_peer then
    dict():incr(conn_key(ctx.noops_pool, ctx.noops_peer), -1, 1)
    ctx.noops_peer = nil
  end
end

-- balancer_by_lua_block: the next ready member not tried yet by this request.
function M.balance(pool)
  local balancer = require("ngx.balancer")
  local ctx = ngx.ctx
  local tried = ctx.noops_tried
  if tried then
    release(ctx) -- a retry: the last member failed (connect error or timeout)
  else
    tried = {}
    ctx.noops_tried = tried
  end
  local held = current(pool)
  local ready = held.ready
  local n = #ready
  local pick
  for _ = 1, n do
    held.next = held.next % n + 1
    local m = ready[held.next]
    if not tried[m.id] then
      pick = m
      break
    end
  end
  if not pick then
    -- as an upstream with no server up: 502 (ngx.exit here would answer 500). Port 1 of loopback
    -- refuses at once, and the retries are spent.
    ngx.log(ngx.ERR, "noops: pool ", pool, ": no ready member", n > 0 and " left to try" or "", ": answering 502")
    release(ctx)
    return balancer.set_current_peer("127.0.0.1", 1)
  end
  tried[pick.id] = true
  if not ctx.noops_more then
    ctx.noops_more = true
    if n > 1 then
      balancer.set_more_tries(n - 1)
    end
  end
  local ok, err = balancer.set_current_peer(pick.addr, pick.port)
  if not ok then
    ngx.log(ngx.ERR, "noops: pool ", pool, ": cannot send to ", pick.addr, ":", pick.port, ": ", err)
    return ngx.exit(502)
  end
  ctx.noops_pool = pool
  ctx.noops_peer = pick.id
  dict():incr(conn_key(pool, pick.id), 1, 0)
end

-- log_by_lua_block (in the http block): a request through a pool ended.
function M.log()
  local ctx = ngx.ctx
  if not ctx.noops_peer then
    return
  end
  release(ctx)
  if not logged then
    logged = true
    dict():set("logged", true)
  end
end

local function say(status, body)
  ngx.status = status
  ngx.header["Content-Type"] = "application/json"
  ngx.say(body)
  return ngx.exit(status)
end

local function quote(s)
  return '"' .. string.gsub(s, '[%c"\\]', function(c)
    return string.format("\\u%04x", string.byte(c))
  end) .. '"'
end

-- The pool's members as JSON, with the requests in flight at each (null until a request's end was logged).
local function describe(pool)
  local d = dict()
  local members = M.parse(d:get("p:" .. pool) or "") or {}
  local counting = d:get("logged") == true
  local out = {}
  for _, m in ipairs(members) do
    local c = "null"
    if counting then
      c = tostring(math.max(d:get(conn_key(pool, m.id)) or 0, 0))
    end
    out[#out + 1] = string.format(
      '{"id":%s,"address":%s,"port":%d,"state":%s,"connections":%s}',
      quote(m.id),
      quote((string.gsub(m.addr, "[%[%]]", ""))),
      m.port,
      quote(m.state),
      c
    )
  end
  return string.format(
    '{"pool":%s,"version":%d,"seq":%s,"members":[%s]}',
    quote(pool),
    d:get("v:" .. pool) or 0,
    string.format("%.0f", d:get("s:" .. pool) or 0),
    table.concat(out, ",")
  )
end

-- How long a PUT may hold its pool's lock (s): the lock lapses by itself after a worker crashed holding it.
local LOCK_S = 1
-- How long a PUT waits for its pool's lock at most (s), in steps of LOCK_STEP_S.
local LOCK_WAIT_S = 0.5
local LOCK_STEP_S = 0.001

-- Runs `work` holding the pool's lock (a key added to the dict: one worker at a time, across
-- workers), so that the check of a PUT's seq and its store are one step; answers what `work`
-- answers, or nil, why and 503 when the lock stays taken.
local function locked(pool, work)
  local d = dict()
  local key = "l:" .. pool
  local waited = 0
  while not d:add(key, true, LOCK_S) do
    if waited >= LOCK_WAIT_S then
      return nil, "the pool " .. pool .. " is being set by another request", 503
    end
    ngx.sleep(LOCK_STEP_S)
    waited = waited + LOCK_STEP_S
  end
  local ok, a, b, c = pcall(work)
  d:delete(key)
  if not ok then
    error(a)
  end
  return a, b, c
end

-- content_by_lua_block of the control location: GET /noops/pools/NAME answers the pool;
-- PUT /noops/pools/NAME[?seq=N] (the pool's text) sets it, then answers it (409 and the pool as it
-- is, with the last seq set, when N is not above it).
function M.control()
  local pool = string.match(ngx.var.uri, "^/noops/pools/([%w_.%-]+)$")
  if not pool then
    return say(404, '{"error":"no such place: the pools are at /noops/pools/NAME"}')
  end
  local method = ngx.req.get_method()
  if method == "PUT" then
    ngx.req.read_body()
    local text = ngx.req.get_body_data()
    if not text then
      local file = ngx.req.get_body_file()
      if file then
        local f = io.open(file, "r")
        if f then
          text = f:read("*a")
          f:close()
        end
      end
    end
    -- ?seq=N (the agent's count of its PUTs): set only when above the last one set, so that an
    -- older PUT that lands after a newer one (the agent stopped waiting for it) changes nothing: 409
    local seq = ngx.var.arg_seq
    if seq ~= nil then
      seq = string.match(seq, "^%d+$") and tonumber(seq)
      if not seq or seq >= 2 ^ 53 then
        return say(400, '{"error":"seq must be a whole number below 2^53"}')
      end
    end
    local members, why = M.parse(text or "", pool)
    if not members then
      return say(400, '{"error":' .. quote(why) .. "}")
    end
    local status, err, code = locked(pool, function()
      local d = dict()
      if seq ~= nil and seq <= (d:get("s:" .. pool) or -1) then
        return 409
      end
      local ok, serr = store(pool, text)
      if not ok then
        return nil, serr, 507
      end
      if seq ~= nil then
        d:set("s:" .. pool, seq)
      end
      return 200
    end)
    if not status then
      return say(code, '{"error":' .. quote(err) .. "}")
    end
    if status == 409 then
      return say(409, describe(pool))
    end
  elseif method ~= "GET" then
    return say(405, '{"error":"GET or PUT"}')
  end
  return say(200, describe(pool))
end

return M
