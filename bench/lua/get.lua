-- GET the URL wrk was given (FetchSession, ListSession); credentials come with -H.
dofile(os.getenv("BENCH_LUA_DIR") .. "/report.lua")
