"""Upload jobs: rows and uploaded bytes in the state database (api/state), a queue that hands them to
a worker (in-process in the embedded mode, Redis Streams across processes), and the runner that
indexes a job's files one by one."""
