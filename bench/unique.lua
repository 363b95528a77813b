-- wrk script: POST a distinct Alertmanager notification on every request.
--
--   wrk -s bench/unique.lua URL -- TEMPLATE_FILE NONCE
--
-- TEMPLATE_FILE is a webhook payload containing @ID@ (bench/payloads.py writes it);
-- each request replaces @ID@ with NONCE-THREAD-COUNTER, so groupKey and fingerprints
-- never repeat within a run or across runs with different nonces.
-- done() prints one line "WRK_JSON {...}" that bench/wrk.py reads.

local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("thread_id", #threads)
end

local template
local prefix
local counter = 0

function init(args)
  local file = assert(io.open(args[1], "rb"))
  template = file:read("*a")
  file:close()
  prefix = (args[2] or tostring(os.time())) .. "-" .. tostring(thread_id) .. "-"
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  counter = counter + 1
  local body = template:gsub("@ID@", prefix .. counter)
  return wrk.format(nil, nil, nil, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"connect_errors":%d,"read_errors":%d,"write_errors":%d,"non2xx":%d,"timeouts":%d,' ..
    '"latency_us":{"min":%d,"mean":%.1f,"max":%d,"stdev":%.1f,' ..
    '"p50":%d,"p75":%d,"p90":%d,"p99":%d,"p999":%d}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.min, latency.mean, latency.max, latency.stdev,
    latency:percentile(50), latency:percentile(75), latency:percentile(90),
    latency:percentile(99), latency:percentile(99.9)))
end
