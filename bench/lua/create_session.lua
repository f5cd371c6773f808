-- CreateSession with two participants, each with an identifier made for this request, so the
-- pair rule never refuses one: valid US numbers +1415NXXXXXX and +1628NXXXXXX (N >= 2).
--   wrk ... -s create_session.lua URL -- <seed>
dofile(os.getenv("BENCH_LUA_DIR") .. "/report.lua")

-- Participants={"Identifier":"+1415..."}, form-encoded.
local first = "Participants=%7B%22Identifier%22%3A%22%2B1415"
local second = "&Participants=%7B%22Identifier%22%3A%22%2B1628"
local close = "%22%7D"
local counter = 0
local base = 0

function init(args)
   math.randomseed(tonumber(args[1]) or os.time())
   base = math.random(0, 7999999)
   wrk.method = "POST"
   wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
end

function request()
   counter = counter + 1
   -- A walk through 8 million subscriber numbers from a random start: no repeat in a run.
   local a = 2000000 + (base + counter) % 8000000
   local b = 2000000 + (base + 3 * counter) % 8000000
   local body = first .. a .. close .. second .. b .. close
   return wrk.format(nil, nil, nil, body)
end
