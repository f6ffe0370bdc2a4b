-- wrk script: a purchase storm by a fixed crowd of buyers, each of whom keeps pressing "Buy".
-- TOKENS (env) is a file of one line per buyer (bench/mint-tokens.mjs): bearer tokens, or bare buyer
-- ids when AUTH=header. Requests go round the crowd, so every buyer comes back again and again — the
-- case the verified-token cache is for — and both modes see the same buyers in the same order.
local sku = os.getenv("SKU") or "BENCH-TOKENS"
local auth = os.getenv("AUTH") or "jwt"
local lines = {}
local next_line = 1

function init(args)
  for line in io.lines(os.getenv("TOKENS")) do
    table.insert(lines, line)
  end
  wrk.method = "POST"
  wrk.path = "/api/v1/purchases"
  wrk.body = '{"sku":"' .. sku .. '"}'
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  local line = lines[next_line]
  next_line = next_line % #lines + 1
  if auth == "header" then
    wrk.headers["X-User-Id"] = line
  else
    wrk.headers["Authorization"] = "Bearer " .. line
  end
  return wrk.format()
end

function done(summary, latency, requests)
  io.write(string.format("RESULT requests=%d duration_s=%.3f rps=%.0f p50_ms=%.3f p99_ms=%.3f errors=%d\n",
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.status + summary.errors.timeout))
end
