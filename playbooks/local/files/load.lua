-- Steady load for the local rollouts: POST /checksum with a 64 KiB body. Each connection waits
-- wrk_delay_ms after every response, so N connections make about N * 1000 / delay requests/s.
wrk.method = "POST"
wrk.body = string.rep("perfgate", 8192)
wrk.headers["Content-Type"] = "application/octet-stream"

local delay_ms = tonumber(os.getenv("WRK_DELAY_MS") or "40")

-- Each request comes from one of a million users, the key a feature flag's rollout sticks to.
function request()
  wrk.headers["X-User-Id"] = tostring(math.random(1, 1000000))
  return wrk.format()
end

function delay()
  return delay_ms
end
