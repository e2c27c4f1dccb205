-- wrk script for bench/fake-cost.ts: sendMessage calls as the bench's slow bot makes them (JSON,
-- "handled <n>" to one of the bench's users), to a Bot API stand-in.
-- done() prints one line, BENCH_WRK_SEND <requests> <non-2xx> <duration us>.
local path = "/bot" .. os.getenv("BENCH_TOKEN") .. "/sendMessage"
local first_user = tonumber(os.getenv("BENCH_FIRST_USER_ID"))
local users = tonumber(os.getenv("BENCH_USERS"))

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

local n = 0
function request()
  n = n + 1
  local body = string.format('{"chat_id":%d,"text":"handled %d"}', first_user + (n % users), n)
  return wrk.format(nil, path, nil, body)
end

function done(summary, latency, requests)
  io.write(string.format("BENCH_WRK_SEND %d %d %d\n", summary.requests, summary.errors.status, summary.duration))
end
