-- wrk script for the bench: POSTs Telegram updates to the webhook with the secret header. Bodies
-- come from the templates bench/lib/updates.ts generates (BENCH_TEMPLATES, a Lua file), each request
-- with the next update_id and a user from a pool, so every update is new to the service.
-- done() prints one line, BENCH_WRK {json}, that bench/lib/wrk.ts reads.
local mix = dofile(os.getenv("BENCH_TEMPLATES"))
local first_id = tonumber(os.getenv("BENCH_FIRST_UPDATE_ID"))
local first_user = tonumber(os.getenv("BENCH_FIRST_USER_ID"))
local users = tonumber(os.getenv("BENCH_USERS"))

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-Telegram-Bot-Api-Secret-Token"] = os.getenv("TELEGRAM_WEBHOOK_SECRET")

-- Per thread (each has its own Lua state): how many requests it made, and where its ids start.
sent = 0
local id_offset = 0
local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("id_offset", (#threads - 1) * 1000000000)
end

function init(args)
  id_offset = _G.id_offset or 0
end

local buf = {}
local function render(entry, values)
  local parts, slots = entry.parts, entry.slots
  local n = 0
  for i = 1, #slots do
    buf[n + 1] = parts[i]
    buf[n + 2] = values[slots[i]]
    n = n + 2
  end
  buf[n + 1] = parts[#parts]
  return table.concat(buf, "", 1, n + 1)
end

local values = {}
function request()
  local n = sent
  sent = n + 1
  values.update_id = string.format("%d", first_id + id_offset + n)
  values.user_id = string.format("%d", first_user + (n % users))
  return wrk.format(nil, nil, nil, render(mix[(n % #mix) + 1], values))
end

function done(summary, latency, requests)
  local total = 0
  for _, thread in ipairs(threads) do total = total + thread:get("sent") end
  local e = summary.errors
  io.write(string.format(
    'BENCH_WRK {"sent":%d,"completed":%d,"duration_us":%d,"non2xx":%d,"connect_errors":%d,"read_errors":%d,"write_errors":%d,"timeouts":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f}\n',
    total, summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
