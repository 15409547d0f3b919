"""Log text as real runtimes and client libraries print it, for the corpus scenarios.

Each function returns a few lines of startup noise plus the failure, in the wording of that language's
usual client (pgx, PgJDBC, psycopg2, ioredis, redis-py, Ruby redis, Kafka Java client, go-sql-driver/mysql,
PHP PDO, gRPC-Go, Spring Boot, .NET …). Some clients print only an IP:port: the app's env then names the host.
"""

from __future__ import annotations

STARTUP = {
    "go": "{t} INFO starting {app} version=v1.14.2 commit=9f1c2ab\n{t} INFO loading config from env\n",
    "java": "{t}  INFO 1 --- [           main] o.s.b.StartupInfoLogger : Starting {app} v3.2.1 using Java 21.0.2\n"
            "{t}  INFO 1 --- [           main] o.s.b.SpringApplication : No active profile set, falling back to 1 default profile\n",
    "python": "[{t}] [1] [INFO] Starting gunicorn 21.2.0\n[{t}] [1] [INFO] Listening at: http://0.0.0.0:8000 (1)\n"
              "[{t}] [7] [INFO] Booting worker with pid: 7\n",
    "node": "> {app}@2.4.0 start\n> node dist/server.js\n\n{{\"level\":30,\"time\":1705329010000,\"msg\":\"starting {app}\"}}\n",
    "ruby": "=> Booting Puma\n=> Rails 7.1.3 application starting in production\n* Puma version: 6.4.2 (ruby 3.3.0-p0)\n",
    "php": "[15-Jan-2024 14:28:01] NOTICE: fpm is running, pid 1\n[15-Jan-2024 14:28:01] NOTICE: ready to handle connections\n",
    "dotnet": "info: Microsoft.Hosting.Lifetime[14]\n      Now listening on: http://[::]:8080\n"
              "info: Microsoft.Hosting.Lifetime[0]\n      Application started. Press Ctrl+C to shut down.\n",
}
T = "2024-01-15T14:28:03Z"


def startup(lang: str, app: str) -> str:
    return STARTUP[lang].format(t=T, app=app)


def refused(client: str, host: str, port: int, ip: str) -> str:
    """A refused connection as `client` logs it (the last line is what made the process exit)."""
    return {
        "pgx": f'{T} ERROR failed to connect to `host={host} user=app database=app`: dial error (dial tcp {ip}:{port}: '
               f'connect: connection refused)\n{T} FATAL cannot start: database unavailable\n',
        "pgjdbc": f"{T} ERROR 1 --- [main] com.zaxxer.hikari.pool.HikariPool : HikariPool-1 - Exception during pool initialization.\n"
                  f"org.postgresql.util.PSQLException: Connection to {host}:{port} refused. Check that the hostname and port are "
                  f"correct and that the postmaster is accepting TCP/IP connections.\n\tat org.postgresql.core.v3."
                  f"ConnectionFactoryImpl.openConnectionImpl(ConnectionFactoryImpl.java:342)\nCaused by: java.net.ConnectException: "
                  f"Connection refused\n",
        "psycopg2": f'Traceback (most recent call last):\n  File "/app/app.py", line 14, in <module>\n    conn = psycopg2.connect(dsn)\n'
                    f'psycopg2.OperationalError: connection to server at "{host}" ({ip}), port {port} failed: Connection refused\n'
                    f'\tIs the server running on that host and accepting TCP/IP connections?\n',
        "ioredis": f"[ioredis] Unhandled error event: Error: connect ECONNREFUSED {ip}:{port}\n"
                   f"    at TCPConnectWrap.afterConnect [as oncomplete] (node:net:1555:16)\n"
                   f"Error: connect ECONNREFUSED {ip}:{port}\n",
        "redis-py": f"redis.exceptions.ConnectionError: Error 111 connecting to {host}:{port}. Connection refused.\n",
        "ruby-redis": f"Redis::CannotConnectError: Error connecting to Redis on {host}:{port} (Errno::ECONNREFUSED)\n"
                      f"/usr/local/bundle/gems/redis-client-0.19.1/lib/redis_client/ruby_connection.rb:144:in `rescue in connect'\n",
        "kafka-java": f"[Producer clientId=orders-producer] Connection to node -1 ({host}/{ip}:{port}) could not be established. "
                      f"Broker may not be available.\n[Producer clientId=orders-producer] Bootstrap broker {host}:{port} "
                      f"(id: -1 rack: null) disconnected\n{T} ERROR Failed to start: TimeoutException: Topic orders not "
                      f"present in metadata after 60000 ms.\n",
        "go-mysql": f"{T} ERROR db ping failed: dial tcp {ip}:{port}: connect: connection refused\n"
                    f"{T} FATAL could not open {host}:{port}: connection refused\n",
        "pdo": "PHP Fatal error:  Uncaught PDOException: SQLSTATE[HY000] [2002] Connection refused in /var/www/html/db.php:12\n",
        "mongo-node": f"MongoServerSelectionError: connect ECONNREFUSED {ip}:{port}\n    at Timeout._onTimeout "
                      f"(/app/node_modules/mongodb/lib/sdam/topology.js:278:38)\n",
        "grpc-go": f'{T} ERROR call to {host}:{port} failed: rpc error: code = Unavailable desc = connection error: desc = '
                   f'"transport: Error while dialing: dial tcp {ip}:{port}: connect: connection refused"\n',
        "amqp-py": f"pika.exceptions.AMQPConnectionError: Connection to {ip}:{port} failed: [Errno 111] Connection refused\n",
    }[client]


def timed_out(client: str, host: str, port: int, ip: str) -> str:
    return {
        "pgx": f"{T} ERROR failed to connect to `host={host} user=app database=app`: dial error (dial tcp {ip}:{port}: i/o timeout)\n",
        "java-http": f"{T} ERROR 1 --- [nio-8080-exec-3] o.a.c.c.C.[.[.[/].[dispatcherServlet] : Servlet.service() threw "
                     f"exception\norg.springframework.web.client.ResourceAccessException: I/O error on GET request for "
                     f"\"http://{host}:{port}/api/v1/stock\": Connect timed out\nCaused by: java.net.SocketTimeoutException: "
                     f"Connect timed out\n",
        "node-http": f"Error: connect ETIMEDOUT {ip}:{port}\n    at TCPConnectWrap.afterConnect [as oncomplete] (node:net:1555:16) "
                     f"{{ errno: -110, code: 'ETIMEDOUT', address: '{ip}', port: {port} }}\n",
        "python-http": f"requests.exceptions.ConnectTimeout: HTTPConnectionPool(host='{host}', port={port}): Max retries exceeded "
                       f"with url: /v1/quote (Caused by ConnectTimeoutError(<urllib3.connection.HTTPConnection object at "
                       f"0x7f2b>, 'Connection to {host} timed out. (connect timeout=5)'))\n",
        "go-http": f'{T} ERROR upstream request failed: Get "http://{host}:{port}/healthz": dial tcp {ip}:{port}: i/o timeout\n',
    }[client]


def dns_timeout(lang: str, host: str, server: str = "10.96.0.10:53") -> str:
    return {
        "go": f"{T} FATAL cannot reach dependency: dial tcp: lookup {host} on {server}: read udp 10.244.1.23:48211->{server}: "
              f"i/o timeout\n",
        "node": f"Error: getaddrinfo EAI_AGAIN {host}\n    at GetAddrInfoReqWrap.onlookup [as oncomplete] (node:dns:107:26) "
                f"{{ errno: -3001, code: 'EAI_AGAIN', syscall: 'getaddrinfo', hostname: '{host}' }}\n",
        "java": f"Caused by: java.net.UnknownHostException: {host}: Temporary failure in name resolution\n"
                f"\tat java.base/java.net.Inet6AddressImpl.lookupAllHostAddr(Native Method)\n",
        "python": f"requests.exceptions.ConnectionError: HTTPConnectionPool(host='{host}', port=8080): Max retries exceeded "
                  f"with url: /v1/rates (Caused by NameResolutionError(\"<urllib3.connection.HTTPConnection object at 0x7f9c>: "
                  f"Failed to resolve '{host}' ([Errno -3] Temporary failure in name resolution)\"))\n",
        "ruby": "Socket::ResolutionError: getaddrinfo: Temporary failure in name resolution\n"
                "/usr/local/lib/ruby/3.3.0/net/http.rb:1603:in `initialize'\n",
        "dotnet": f"fail: Microsoft.Extensions.Hosting.Internal.Host[9]\n      BackgroundService failed\n"
                  f"      System.Net.Http.HttpRequestException: Resource temporarily unavailable ({host}:80)\n"
                  f"       ---> System.Net.Sockets.SocketException (00000001, 11): Resource temporarily unavailable\n",
    }[lang]


def dns_not_found(lang: str, host: str) -> str:
    return {
        "go": f"{T} FATAL dial tcp: lookup {host} on 10.96.0.10:53: no such host\n",
        "node": f"Error: getaddrinfo ENOTFOUND {host}\n    at GetAddrInfoReqWrap.onlookup [as oncomplete] (node:dns:107:26)\n",
        "java": f"Caused by: java.net.UnknownHostException: {host}\n\tat java.base/java.net.InetAddress$CachedLookup.get(InetAddress.java:988)\n",
        "python": f'psycopg2.OperationalError: could not translate host name "{host}" to address: Name or service not known\n',
        "curl": f"  % Total    % Received % Xferd  Average Speed   Time    Time     Time  Current\n"
                f"curl: (6) Could not resolve host: {host}\n",
    }[lang]


def crash(lang: str) -> str:
    """An application error with no infrastructure cause."""
    return {
        "go": "panic: runtime error: invalid memory address or nil pointer dereference\n[signal SIGSEGV: segmentation "
              "violation code=0x1 addr=0x0 pc=0x9a3c1f]\n\ngoroutine 1 [running]:\nmain.(*Server).loadPricing(0x0)\n"
              "\t/src/cmd/server/main.go:88 +0x1f\n",
        "java": "Exception in thread \"main\" java.lang.IllegalStateException: Failed to load ApplicationContext\n"
                "Caused by: org.springframework.beans.factory.BeanCreationException: Error creating bean with name "
                "'checkoutService': Invocation of init method failed; nested exception is java.lang.NumberFormatException: "
                "For input string: \"ten\"\n",
        "python": "Traceback (most recent call last):\n  File \"/app/worker.py\", line 42, in <module>\n    main()\n"
                  "  File \"/app/worker.py\", line 37, in main\n    rate = float(settings[\"RATE\"])\nKeyError: 'RATE'\n",
        "node": "/app/dist/server.js:211\n        throw new TypeError(`Cannot read properties of undefined (reading 'split')`);\n"
                "TypeError: Cannot read properties of undefined (reading 'split')\n    at parseRoutes (/app/dist/routes.js:18:31)\n",
        "ruby": "/app/config/initializers/feature_flags.rb:7:in `<main>': undefined method `fetch' for nil (NoMethodError)\n",
        "dotnet": "Unhandled exception. System.InvalidOperationException: Unable to resolve service for type 'IPriceCache' "
                  "while attempting to activate 'QuoteController'.\n   at Program.<Main>$(String[] args) in /src/Program.cs:line 31\n",
    }[lang]


def warning_noise(host: str, port: int) -> str:
    """Log lines of a healthy process that look alarming (retries that succeeded, upstream blips)."""
    return (f"{T} WARN retrying connection to {host}:{port} after error: connection reset by peer\n"
            f"{T} INFO connected to {host}:{port}\n{T} INFO GET /health 200 2ms\n")


def disk_full(db: str) -> str:
    return {
        "postgres": "2024-01-15 14:29:51.331 UTC [1] LOG:  database system was interrupted; last known up at 2024-01-15 14:21:02 UTC\n"
                    "2024-01-15 14:29:51.402 UTC [1] PANIC:  could not write to file \"pg_wal/xlogtemp.31\": No space left on device\n"
                    "2024-01-15 14:29:51.410 UTC [1] LOG:  startup process (PID 31) was terminated by signal 6: Aborted\n",
        "mysql": "2024-01-15T14:29:40.118230Z 0 [System] [MY-010116] [Server] /usr/sbin/mysqld (mysqld 8.0.36) starting as process 1\n"
                 "2024-01-15T14:29:41.902311Z 1 [ERROR] [MY-012639] [InnoDB] Write to file ./ibtmp1 failed at offset 12582912, "
                 "1048576 bytes should have been written, only 0 were written. Operating system error number 28.\n"
                 "2024-01-15T14:29:41.902400Z 1 [ERROR] [MY-012267] [InnoDB] Could not set the file size of './ibtmp1'. Probably out of disk space\n",
        "kafka": "[2024-01-15 14:29:44,101] ERROR Error while writing to checkpoint file /var/lib/kafka/data/recovery-point-offset-checkpoint "
                 "(kafka.server.LogDirFailureChannel)\njava.io.IOException: No space left on device\n"
                 "[2024-01-15 14:29:44,130] ERROR Shutdown broker because all log dirs in /var/lib/kafka/data have failed (kafka.log.LogManager)\n",
        "redis": "1:M 15 Jan 2024 14:29:40.001 # Write error saving DB on disk: No space left on device\n"
                 "1:M 15 Jan 2024 14:29:40.002 # MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk.\n",
        "mongo": '{"t":{"$date":"2024-01-15T14:29:45.118+00:00"},"s":"E","c":"WT","id":22435,"ctx":"thread1","msg":"WiredTiger error",'
                 '"attr":{"error":28,"message":"[1705328985:118][1:0x7f] __posix_file_write, 616: /data/db/WiredTigerLog.0000000042: '
                 'handle-write: pwrite: failed to write 128 bytes at offset 2304: No space left on device"}}\n',
    }[db]
