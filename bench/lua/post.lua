-- POST one fixed form body (CreateMessageInteraction, the inbound sandbox message).
--   wrk ... -s post.lua URL -- '<form body>'
dofile(os.getenv("BENCH_LUA_DIR") .. "/report.lua")

function init(args)
   wrk.method = "POST"
   wrk.body = args[1]
   wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
end
