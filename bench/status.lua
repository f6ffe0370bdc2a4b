-- wrk script: the sale status page's poll, GET /api/v1/sales?sku=SKU.
local sku = os.getenv("SKU") or "BENCH-STATUS"
wrk.path = "/api/v1/sales?sku=" .. sku

function done(summary, latency, requests)
  io.write(string.format("RESULT requests=%d duration_s=%.3f rps=%.0f p50_ms=%.3f p99_ms=%.3f errors=%d\n",
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.status + summary.errors.timeout))
end
