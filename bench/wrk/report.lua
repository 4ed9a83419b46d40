-- wrk script used by every closed-loop run of bench/run.sh.
--
-- BENCH_TOKEN_FILE (optional): a file of tokens, one per line. Each request then sends
--   `Authorization: Bearer <next token>`, cycling through the file; wrk thread k starts
--   k/BENCH_WRK_THREADS of the way in so threads do not send the same token together.
--   Without it no `request` function is defined and wrk sends its pre-built request
--   (headers from -H), so fixed-token runs pay no Lua cost per request.
-- done() prints one line `BENCH_JSON {...}` that run.sh keeps: completed requests,
--   duration, p50/p99 latency (µs) and wrk's error counters (status = responses >= 400).

local token_file = os.getenv("BENCH_TOKEN_FILE")
local wrk_threads = tonumber(os.getenv("BENCH_WRK_THREADS") or "1") or 1
local next_thread = 0

function setup(thread)
  thread:set("thread_index", next_thread)
  next_thread = next_thread + 1
end

if token_file and token_file ~= "" then
  local tokens = {}
  for line in io.lines(token_file) do
    if #line > 0 then
      tokens[#tokens + 1] = "Bearer " .. line
    end
  end
  if #tokens == 0 then
    error("no tokens in " .. token_file)
  end
  local n = #tokens
  local i = 0

  function init(args)
    i = math.floor(((thread_index or 0) * n) / wrk_threads) % n
  end

  function request()
    i = i + 1
    if i > n then
      i = 1
    end
    wrk.headers["Authorization"] = tokens[i]
    return wrk.format()
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"p50_us":%.1f,"p99_us":%.1f,'
      .. '"errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d,"status":%d}}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect, e.read, e.write, e.timeout, e.status))
end
