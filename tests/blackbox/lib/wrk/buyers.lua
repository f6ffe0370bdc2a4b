-- wrk script for the soak test: every request is a purchase of SKU by a buyer never seen before,
-- unless DUPLICATES (env) is set, in which case every request comes from one of that many buyers
-- (the same buyer hammering). Every answer is appended to OUT_DIR/answers-<prefix>-<thread>.txt as
-- "<status> <userId> <purchaseNo>" for a success and "<status> - <code> [purchaseNo]" for an
-- error, so the test can check that every buyer told "success" holds an order afterwards.
local sku = os.getenv("SKU")
local prefix = os.getenv("USER_PREFIX")
local out_dir = os.getenv("OUT_DIR")
local duplicates = tonumber(os.getenv("DUPLICATES") or "0")
local threads = {}

function setup(thread)
  thread:set("thread_id", #threads)
  table.insert(threads, thread)
end

function init(args)
  wrk.method = "POST"
  wrk.path = "/api/v1/purchases"
  wrk.body = '{"sku":"' .. sku .. '"}'
  wrk.headers["Content-Type"] = "application/json"
  counter = 0
  pending = {}
  answers = io.open(out_dir .. "/answers-" .. prefix .. "-" .. thread_id .. ".txt", "w")
end

-- wrk matches answers to requests in order per connection, but the Lua side sees neither, so the
-- buyer is read back from the answer itself: a success or ALREADY_PURCHASED names it.
function request()
  counter = counter + 1
  local user
  if duplicates > 0 then
    user = prefix .. "-" .. (counter % duplicates)
  else
    user = prefix .. "-" .. thread_id .. "-" .. counter
  end
  wrk.headers["X-User-Id"] = user
  return wrk.format()
end

function response(status, headers, body)
  local number = body:match('"purchaseNo":"([^"]*)"') or ""
  if body:find('"success":true', 1, true) then
    answers:write(status, " ", body:match('"userId":"([^"]*)"'), " ", number, "\n")
  else
    answers:write(status, " - ", body:match('"code":"([^"]*)"') or "-", " ", number, "\n")
  end
end

function done(summary, latency, requests)
  io.write(string.format("RESULT requests=%d errors=%d\n", summary.requests,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.status + summary.errors.timeout))
end
