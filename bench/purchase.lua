-- wrk script: every request is a purchase by a user never seen before.
-- SKU (env) names the sale; USER_PREFIX (env) keeps runs against one sale apart.
local sku = os.getenv("SKU") or "BENCH-STORM"
local prefix = os.getenv("USER_PREFIX") or tostring(os.time())
local threads = {}
local counter = 0

-- thread_index is a global of each thread's Lua state, set here before init: a chunk-level
-- "local thread_index" would shadow it and give every thread the same buyers.
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
  wrk.headers["X-User-Id"] = prefix .. "-" .. thread_index .. "-" .. counter
  return wrk.format()
end

function done(summary, latency, requests)
  io.write(string.format("RESULT requests=%d duration_s=%.3f rps=%.0f p50_ms=%.3f p99_ms=%.3f errors=%d\n",
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.status + summary.errors.timeout))
end
