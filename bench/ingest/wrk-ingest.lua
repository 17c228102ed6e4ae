-- wrk script for the ingest benchmark: every request is a steady-state agent report, its machine
-- key taken in turn from the keys file given after `--`. The requests are formatted once in init(),
-- so the load generator does no per-request string work. done() prints one JSON line on stdout.
local requests = {}
local nextRequest = 1

function init(args)
  local body = args[2]
  for key in io.lines(args[1]) do
    requests[#requests + 1] = wrk.format('POST', '/agent/metrics', {
      ['Content-Type'] = 'application/json',
      ['Authorization'] = 'Bearer ' .. key,
    }, body)
  end
  -- Each of wrk's threads starts at another place in the rotation.
  nextRequest = math.random(#requests)
end

function request()
  local r = requests[nextRequest]
  nextRequest = nextRequest % #requests + 1
  return r
end

function done(summary, latency, _)
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"non_2xx":%d,"connect_errors":%d,"read_errors":%d,"write_errors":%d,"timeouts":%d,"p50_us":%d,"p99_us":%d}\n',
    summary.requests, summary.duration, summary.errors.status, summary.errors.connect, summary.errors.read,
    summary.errors.write, summary.errors.timeout, latency:percentile(50), latency:percentile(99)))
end
