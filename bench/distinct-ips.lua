-- wrk script: purchases from ever new client addresses, as a botnet's would arrive through a trusted
-- proxy (X-Forwarded-For), each address once. The server must run with --trusted-proxy 127.0.0.1 and
-- --rate-limit-ip; its memory must not grow with the addresses (bench/limiter-memory.sh).
local sku = os.getenv("SKU") or "BENCH-IPS"
local counter = 0
local thread_index = 0
local threads = {}

function setup(thread)
  thread:set("thread_index", #threads)
  table.insert(threads, thread)
end

function init(args)
  wrk.method = "POST"
  wrk.path = "/api/v1/purchases"
  wrk.body = '{"sku":"' .. sku .. '"}'
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  counter = counter + 1
  -- 10.x.y.z from the counter: 16 million addresses per thread before one repeats
  local n = counter + thread_index * 16777216
  wrk.headers["X-Forwarded-For"] = string.format("%d.%d.%d.%d", 10 + math.floor(n / 16777216) % 200,
    math.floor(n / 65536) % 256, math.floor(n / 256) % 256, n % 256)
  wrk.headers["X-User-Id"] = "ip-bench-" .. thread_index .. "-" .. counter
  return wrk.format()
end

function done(summary, latency, requests)
  io.write(string.format("RESULT requests=%d rps=%.0f\n", summary.requests, summary.requests / (summary.duration / 1e6)))
end
