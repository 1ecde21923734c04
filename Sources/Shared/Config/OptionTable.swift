/// Every option this implementation knows, with its type, default, use and
/// status. The docs' option reference (docs/options.md) is generated from this
/// table (`emperor --options-markdown`), so the two cannot drift apart.
public enum OptionTable {
    static let vassalLater = OptionSupport.planned("the vassal arrives with the vassal/zerg issue")

    public static let all: [OptionSpec] = language + emperor + compatibility + unsupported + vassal + zerg + lifecycle

    /// The configuration language itself.
    static let language: [OptionSpec] = [
        OptionSpec("ini", .path, list: true, roles: .all, "Load another ini file (`file.ini[:section]`, or `:section` of the last file) at this point."),
        OptionSpec("include", .path, list: true, roles: .all, "Same as `ini`: splice another file's options in here."),
        OptionSpec("inherit", .path, list: true, roles: .all, "Load a file's options after everything else (they act as defaults for placeholders)."),
        OptionSpec("set", .string, list: true, roles: .all, "`set = key=value` sets an option (useful on the command line)."),
        // Config logic (ConfigLogic): blocks of options kept, dropped or repeated as uWSGI does.
        OptionSpec("if-env", .string, list: true, roles: .all, "`NAME` or `NAME=VALUE`: the options up to `endif` apply only when the environment variable is set (to VALUE); `%(_)` in them is its value."),
        OptionSpec("if-not-env", .string, list: true, roles: .all, "The options up to `endif` apply only when the variable is not set (or not to VALUE)."),
        OptionSpec("if-exists", .path, list: true, roles: .all, "The options up to `endif` apply only when the path exists; `%(_)` is the path."),
        OptionSpec("if-not-exists", .path, list: true, roles: .all, "The options up to `endif` apply only when the path does not exist."),
        OptionSpec("if-file", .path, list: true, roles: .all, "The options up to `endif` apply only when the path is a regular file."),
        OptionSpec("if-not-file", .path, list: true, roles: .all, "The options up to `endif` apply only when the path is not a regular file."),
        OptionSpec("if-dir", .path, list: true, roles: .all, "The options up to `endif` apply only when the path is a directory."),
        OptionSpec("if-not-dir", .path, list: true, roles: .all, "The options up to `endif` apply only when the path is not a directory."),
        OptionSpec("if-opt", .string, list: true, roles: .all, "`NAME` or `NAME=VALUE`: the options up to `endif` apply only when an option set before has that name (and value); `%(_)` is its value."),
        OptionSpec("if-not-opt", .string, list: true, roles: .all, "The options up to `endif` apply only when no option set before has that name (and value)."),
        OptionSpec("if-hostname", .string, list: true, roles: .all, "The options up to `endif` apply only on the host of that name; `%(_)` is the name."),
        OptionSpec("if-not-hostname", .string, list: true, roles: .all, "The options up to `endif` apply only on other hosts."),
        OptionSpec("else", .bool, list: true, roles: .all, "The options up to `endif` apply when the last condition failed."),
        OptionSpec("for", .string, list: true, roles: .all, "Space-separated items: each option up to `endfor` is added once per item, `%(_)` being the item."),
        OptionSpec("for-glob", .string, list: true, roles: .all, "Each option up to `endfor` is added once per path matching the pattern (directories end in `/`; no match: the pattern itself)."),
        OptionSpec("for-readline", .path, list: true, roles: .all, "Each option up to `endfor` is added once per line of the file."),
        OptionSpec("for-times", .int, list: true, roles: .all, "Each option up to `endfor` is added N times, `%(_)` being 1…N."),
        OptionSpec("endif", .bool, list: true, aliases: ["end-if", "endfor", "end-for", "end"], roles: .all, "Ends an `if-*` or `for*` block."),
        OptionSpec("set-placeholder", .string, list: true, aliases: ["set-ph"], roles: .all, "`set-placeholder = name=value` declares a placeholder (allowed with `strict`)."),
        OptionSpec("strict", .bool, default: "false", roles: .all, "Unknown keys become errors instead of placeholders."),
        OptionSpec("env", .string, list: true, roles: .all, "`env = KEY=VALUE` for the process (and its app); `env = KEY` unsets."),
        OptionSpec("unenv", .string, list: true, roles: .all, "Remove a variable from the environment."),
        OptionSpec("logto", .path, roles: .all, "Append this process's log to a file instead of stderr."),
    ]

    static let emperor: [OptionSpec] = [
        OptionSpec("emperor", .string, list: true, roles: .emperor,
                   difference: "Only directories and globs (no `pg://`, `amqp://`, ... monitors); only `.ini` configs are started.",
                   "A directory or glob of instance configs to run; repeatable."),
        OptionSpec("emperor-freq", .int, default: "3", roles: .emperor,
                   difference: "A safety-net rescan only: changes are seen through inotify within milliseconds.",
                   "Seconds between full rescans of every watched glob."),
        OptionSpec("emperor-nofollow", .bool, default: "false", roles: .emperor,
                   "Watch symlinks themselves (lstat): a touch on the link, not its target, reloads."),
        OptionSpec("emperor-wrapper", .path, roles: .emperor,
                   difference: "Replaces our per-kind choice (`vassal` or `zerg` beside the emperor binary).",
                   "Program to run for every config instead of `vassal`/`zerg`."),
        OptionSpec("binary-path", .path, roles: [.emperor, .vassal, .zerg], difference: "the emperor's is a directory (where `vassal` and `zerg` are)", "Vassal, zerg: the binary re-exec'd on reload and for workers (default: the path the process was started with, resolved at start; the running image when that path cannot be exec'd). Emperor: the directory holding the `vassal` and `zerg` binaries (default: the emperor's own directory)."),
        OptionSpec("status", .address, roles: .emperor, difference: "New: replaces the seed's separate status app on :9999.",
                   "Serve HTTP on `host:port` (or a unix path): `/` a live dashboard of every build, `/status.json` every instance's stats merged per build, `/metrics` Prometheus text."),
        OptionSpec("emperor-stats", .address, aliases: ["emperor-stats-server"], roles: .emperor,
                   "Serve the emperor's stats JSON on a unix socket path or `host:port`."),
        OptionSpec("emperor-throttle", .int, default: "1000", roles: .emperor,
                   difference: "The first step of a per-instance respawn backoff (doubling), run as a timer: the emperor never sleeps.",
                   "Milliseconds: first respawn delay after a crash; each further quick crash doubles it."),
        OptionSpec("emperor-max-throttle", .int, default: "180000", roles: .emperor, "Milliseconds: cap of the respawn backoff."),
        OptionSpec("emperor-run-dir", .path, roles: .emperor, difference: "ours", "Where instances keep their adoption sockets, so an emperor started again over the same configs takes over the running instances instead of starting duplicates (default: /run/hadjango for root, else $XDG_RUNTIME_DIR/hadjango, else /tmp/hadjango-UID)."),
        OptionSpec("emperor-lost-grace", .int, default: "60", roles: .emperor, difference: "uWSGI's vassals stop at once when their emperor dies", "Seconds an instance whose emperor died keeps serving while it waits to be adopted by a new one; then it stops gracefully."),
        OptionSpec("emperor-stable-time", .int, default: "10", roles: .emperor,
                   difference: "Ours. uWSGI resets its blacklist only after a served request (loyalty).",
                   "Seconds an instance must run before a crash counts as a fresh failure (backoff reset)."),
        OptionSpec("reload-mercy", .int, default: "30", roles: .all,
                   "Seconds a stopping instance gets before SIGKILL (emperor), or the overall budget of a graceful stop."),
        OptionSpec("emperor-graceful-shutdown", .bool, default: "true", roles: .emperor,
                   difference: "Default true: removal and SIGTERM ask for a graceful stop (byte 2); uWSGI sends a brutal stop (byte 0) unless set.",
                   "Stop instances with the graceful-stop message (false: the immediate-stop message)."),
        OptionSpec("emperor-pidfile", .path, roles: .emperor, "Write the emperor's pid to this file."),
        OptionSpec("emperor-procname", .string, roles: .emperor, "Process name of the emperor (`ps`), with `procname-prefix`/`-append` around it."),
        OptionSpec("vassal-set", .string, list: true, roles: .emperor, "`vassal-set = key=value`: passed to every instance as `--set key=value`."),
        OptionSpec("emperor-no-blacklist", .bool, roles: .emperor, support: .noEffect("there is no blacklist: crashing instances back off per instance and never stop the others"), "uWSGI: disable the blacklist."),
    ]

    /// Accepted so existing uWSGI files load, with no effect here.
    static let compatibility: [OptionSpec] = [
        OptionSpec("daemonize", .path, aliases: ["daemonize2"], roles: .zerg,
                   difference: "The process starts again detached (a new session, by exec, never a fork of a running interpreter); `daemonize2` is the same.",
                   "Detach from the terminal and log to this file: the command returns at once, printing the daemon's pid."),
        OptionSpec("master", .bool, roles: .all, support: .noEffect("every program here is its own master; there is no masterless mode"), "uWSGI: enable the master process."),
        OptionSpec("thunder-lock", .bool, roles: .all, support: .noEffect("the vassal hands accepted connections to ready workers, so there is no accept() to serialise"), "uWSGI: serialise accept() across workers."),
        OptionSpec("plugins", .string, list: true, aliases: ["plugin"], roles: .all, support: .noEffect("HTTP and the Python WSGI support are built in"), "uWSGI: load plugins."),
        OptionSpec("vacuum", .bool, roles: .all, support: .noEffect("sockets and pid files we create are always removed on exit"), "uWSGI: remove created files on exit."),
        OptionSpec("die-on-term", .bool, roles: .all, support: .noEffect("SIGTERM always means graceful stop here (uWSGI 2.1 semantics)"), "uWSGI 2.0: make SIGTERM stop instead of reload."),
        OptionSpec("enable-threads", .bool, roles: .zerg, support: .noEffect("the embedded interpreter always allows Python threads"), "uWSGI: enable the GIL for app threads."),
        OptionSpec("single-interpreter", .bool, roles: .zerg, support: .noEffect("each worker always runs one interpreter"), "uWSGI: use one interpreter per worker."),
    ]

    /// Known uWSGI options that we refuse with a reason rather than mis-run.
    static let unsupported: [OptionSpec] = [
        OptionSpec("emperor-tyrant", .bool, roles: .emperor, support: .unsupported("tyrant mode (run as the config owner) is not implemented"), "uWSGI: run each vassal as its config file's owner."),
        OptionSpec("emperor-broodlord", .int, roles: .emperor, support: .unsupported("broodlord mode is not implemented; the zerg's adaptive worker count covers load"), "uWSGI: spawn extra zergs on demand."),
        OptionSpec("emperor-on-demand-extension", .string, aliases: ["emperor-on-demand-ext", "emperor-on-demand-directory", "emperor-on-demand-dir", "emperor-on-demand-exec"], roles: .emperor, support: .unsupported("socket-activated vassals are not implemented"), "uWSGI: on-demand vassals."),
        OptionSpec("if-reload", .string, aliases: ["if-not-reload"], roles: .all, support: .unsupported("our reloads re-read the configuration in a new process image, which uWSGI's reload test cannot tell apart; put the options outside the block"), "uWSGI: options only on (or not on) a reload."),
    ]

    static let vassal: [OptionSpec] = [
        OptionSpec("http", .address, list: true, roles: [.vassal, .zerg],
                   difference: "On a zerg (uWSGI's quickstart `--http :8000`), the master starts a vassal that owns the port and the workers attach to it (instead of uWSGI's HTTP router): a reload of the workers keeps every connection.",
                   "`[addr]:port` (or a unix path) the vassal listens on for clients."),
        OptionSpec("zerg-server", .path, roles: .vassal, "Unix socket zerg workers attach to, to receive accepted connections."),
        OptionSpec("listen", .int, default: "100", roles: [.vassal, .zerg], "Listen backlog of the client socket."),
        OptionSpec("chmod-socket", .string, roles: [.vassal, .zerg], "Mode of created unix sockets (e.g. 666)."),
        OptionSpec("chown-socket", .string, roles: [.vassal, .zerg], "`user[:group]` owner of created unix sockets."),
        OptionSpec("uid", .string, roles: [.vassal, .zerg], "User (name or id) to run as after binding sockets."),
        OptionSpec("gid", .string, roles: [.vassal, .zerg], "Group (name or id) to run as after binding sockets."),
        OptionSpec("http-timeout", .int, default: "60", roles: [.vassal, .zerg], "Seconds an idle keep-alive connection is kept open."),
        OptionSpec("http-headers-timeout", .int, default: "10", roles: [.vassal, .zerg],
                   difference: "uWSGI's http router option; here also for the zerg's `http-socket`. A deadline from the request's first byte, not a timer each byte resets.",
                   "Seconds a client gets to send a whole request head, from its first byte (from the connect for a new connection): then 408 and the connection closes."),
        OptionSpec("http-body-timeout", .int, default: "60", roles: [.vassal, .zerg], difference: "Ours.",
                   "Seconds a client gets to send a request body; past them the body may go on only while it arrives at `http-body-min-rate` or faster (else 408 from the vassal, or the request ends as a short body in the worker)."),
        OptionSpec("http-body-min-rate", .int, default: "1024", roles: [.vassal, .zerg], difference: "Ours.",
                   "Bytes per second a request body must average once `http-body-timeout` has passed (0: the timeout is a hard deadline)."),
        OptionSpec("max-connections", .int, default: "0", roles: [.vassal, .zerg], difference: "Ours (uWSGI: `max-fd` sets the limit itself).",
                   "Client connections the vassal, or each standalone zerg worker, holds at most (0: the open-file limit, raised to the hard limit at start, less 64). At the cap the oldest idle keep-alive connection is closed to make room, else a new one is answered 503; out of descriptors, a reserve one answers waiting clients 503 rather than leave them stuck."),
        OptionSpec("post-buffering", .size, default: "65536", roles: .vassal,
                   difference: "uWSGI's default is 0 and its workers do the buffering; ours is the vassal's, so no worker waits for a slow client's body.",
                   "Request bodies up to this size (and chunked bodies up to this many bytes) are read by the vassal before the request goes to a worker; larger ones stream to the worker (0: none)."),
        OptionSpec("zerg-allow-uid", .string, list: true, roles: .vassal,
                   difference: "New: uWSGI lets anyone who can open the socket attach.",
                   "A user (name or id) whose workers may attach besides the vassal's own uid and root; repeatable."),
        OptionSpec("queue-timeout", .int, default: "30", roles: .vassal, "Seconds a connection may wait for a free worker before a 503."),
        OptionSpec("stats", .address, aliases: ["stats-server"], roles: [.vassal, .zerg], "Serve uWSGI-compatible stats JSON on a unix path or `host:port`."),
        OptionSpec("stats-http", .bool, roles: [.vassal, .zerg], "Answer the stats socket with an HTTP response."),
        OptionSpec("buffer-size", .size, default: "4096", roles: [.vassal, .zerg], "Largest request head (request line and headers) accepted, in bytes: a longer request line is answered 414, a longer head 431."),
        OptionSpec("no-defer-accept", .bool, default: "false", roles: [.vassal, .zerg], "Accept TCP connections before their first bytes arrive (by default, as uWSGI does, the kernel holds a connection back until the client has sent something, for up to `socket-timeout` seconds)."),
        OptionSpec("exec-timeout", .int, default: "10", roles: .all, difference: "uWSGI waits for an `@(exec://)` command without a limit", "Seconds an `@(exec://)` command in a config may run before it is killed (with what it started); the config then fails with that line."),
        OptionSpec("socket-timeout", .int, default: "4", roles: [.vassal, .zerg], "Seconds a worker waits for the rest of a request (head or body) or for a client to take response bytes."),
        OptionSpec("disable-logging", .bool, roles: .zerg, "Do not log requests."),
        OptionSpec("worker-reload-mercy", .int, default: "60", roles: .zerg, "Seconds a worker gets to finish its request on a graceful stop or reload before SIGKILL."),
    ]

    static let zerg: [OptionSpec] = [
        OptionSpec("zerg", .path, list: true, roles: .zerg, "Attach to a vassal's zerg-server socket and serve the connections it hands over."),
        OptionSpec("handback-linger", .int, default: "2", roles: .zerg,
                   difference: "New (zerg mode only).",
                   "Milliseconds an attached worker waits for a keep-alive client's next request before handing the idle connection back to the vassal."),
        OptionSpec("http-socket", .address, list: true, roles: .zerg, "Serve HTTP directly on `[addr]:port` (standalone mode)."),
        OptionSpec("socket", .address, list: true, aliases: ["uwsgi-socket"], roles: [.vassal, .zerg],
                   difference: "The uwsgi protocol's modifier1 0 (WSGI) only; a request with another modifier is logged and its connection closed.",
                   "Serve uWSGI's binary protocol on `[addr]:port` or a unix path (what nginx's `uwsgi_pass` sends, with `include uwsgi_params`): one request per connection, the response written as HTTP. On a vassal, its connections are queued and handed to the workers like HTTP ones."),
        OptionSpec("protocol", .string, default: "uwsgi", roles: [.vassal, .zerg], "What `socket` listeners speak: `uwsgi`, or `http` (then a `socket` is an `http-socket`)."),
        OptionSpec("cpu-slots", .int, default: "the CPU count", roles: .zerg,
                   difference: "New (standalone mode).",
                   "How many workers of a CPU-bound app compute at once; with more workers than this, the others leave new connections to the computing ones. Workers whose requests wait on I/O never hold a slot. 0 turns this off (every worker takes connections, as in uWSGI)."),
        OptionSpec("workers", .int, aliases: ["processes"], default: "1", roles: [.vassal, .zerg], "Number of worker processes (the maximum with `cheaper`); a vassal has none (`processes = 0` in uWSGI files)."),
        OptionSpec("threads", .int, default: "1", roles: .zerg,
                   difference: "Each thread is a core of its own (its scoreboard row, stats `cores[]` entry and, attached to a vassal, its own link): the vassal hands a worker up to `threads` connections at once. `enable-threads` is implied.",
                   "Request threads per worker: each serves one request at a time, the GIL released whenever it waits for the network or the app sleeps; `wsgi.multithread` is True."),
        OptionSpec("threads-stacksize", .int, aliases: ["thread-stacksize", "threads-stack-size", "thread-stack-size"], roles: .zerg,
                   "Stack of each request thread, in KiB (default: the system's)."),
        OptionSpec("wsgi-file", .path, aliases: ["file"], roles: .zerg, "Python file defining the WSGI callable."),
        // Static files (RequestRunner+Static): served by the worker with sendfile, without Python.
        OptionSpec("static-map", .string, list: true, roles: .zerg,
                   difference: "Only GET and HEAD are answered from files; a directory not found at start is an error.",
                   "`/prefix=/directory`: a GET or HEAD under the prefix is answered with the file (the path after the prefix, under the directory), if there is one; else the app gets it."),
        OptionSpec("static-map2", .string, list: true, roles: .zerg, "As `static-map`, but the whole path is appended to the directory."),
        OptionSpec("check-static", .path, list: true, roles: .zerg, "Every GET or HEAD path is looked up under this directory first."),
        OptionSpec("static-index", .string, list: true, roles: .zerg, "File name(s) served for a directory (e.g. `index.html`)."),
        OptionSpec("static-skip-ext", .string, list: true, roles: .zerg, "Files ending so are never served as static files."),
        OptionSpec("static-safe", .path, list: true, roles: .zerg, "A directory a static file may resolve to (through a symlink) outside its root; else such a file, like `..`, is refused."),
        OptionSpec("static-expires-type", .string, list: true, roles: .zerg, "`type=seconds`: Expires and Cache-Control max-age for static files of that content type."),
        OptionSpec("static-expires-uri", .string, list: true, roles: .zerg, difference: "POSIX extended regexes (uWSGI: PCRE).", "`regex=seconds`: the same by request path."),
        OptionSpec("static-expires", .string, list: true, roles: .zerg, difference: "POSIX extended regexes (uWSGI: PCRE).", "`regex=seconds`: the same by file name."),
        OptionSpec("mime-file", .path, list: true, aliases: ["mimefile"], default: "/etc/mime.types", roles: .zerg, "Content types of static files by extension."),
        OptionSpec("mount", .string, list: true, roles: .zerg,
                   difference: "A path no app is mounted at (and no default app) is answered 404; stats count requests per worker, on app 0.",
                   "`/mountpoint=app.py` or `/mountpoint=package.module[:callable]`: one more app in every worker, picked by the request's SCRIPT_NAME, or by PATH_INFO with `manage-script-name`."),
        OptionSpec("manage-script-name", .bool, roles: .zerg,
                   "The longest `mount` point that prefixes PATH_INFO (at a segment boundary) picks the app and moves from PATH_INFO to SCRIPT_NAME."),
        OptionSpec("log-slow", .int, roles: .zerg, "Milliseconds: slower requests are logged even with `disable-logging`."),
        OptionSpec("log-big", .size, roles: .zerg, "Responses larger than this are logged even with `disable-logging`."),
        OptionSpec("log-zero", .bool, roles: .zerg, "Empty responses are logged even with `disable-logging`."),
        OptionSpec("log-ioerror", .bool, roles: .zerg, "Requests whose client went away (or whose write failed) are logged even with `disable-logging`."),
        OptionSpec("log-maxsize", .size, roles: .zerg,
                   difference: "Checked every second by the master, which renames the file and has every process open it again.",
                   "Rotate `logto` past this size: renamed to `log-backupname`, then reopened."),
        OptionSpec("log-backupname", .path, default: "the log file's name and the time (`.1732900000`)", roles: .zerg, "Name the rotated log file gets."),
        OptionSpec("cron", .string, list: true, roles: .zerg,
                   difference: "Run by the zerg master as `/bin/sh -c`. The `uwsgi` module's `add_cron` raises a signal the same way.",
                   "`MIN HOUR MDAY MONTH WDAY COMMAND` (-1: any, -N: every N): the command runs at the start of each matching minute, local time."),
        OptionSpec("unique-cron", .string, list: true, roles: .zerg, "As `cron`, but not started again while its previous run still runs."),
        OptionSpec("cron2", .string, list: true, roles: .zerg, "`minute=M,hour=H,day=D,month=MO,week=W,unique=1 COMMAND`: the keyed form (missing keys: any)."),
        OptionSpec("locks", .int, default: "0", roles: .zerg,
                   "User locks for `uwsgi.lock(n)`/`unlock(n)`: lock 0 always, and locks 1 to N; process-shared, and a lock whose holder dies is taken over by the next taker."),
        OptionSpec("cache2", .string, list: true, roles: .zerg,
                   difference: "Keys `name`, `items` (`maxitems`), `blocksize`, `keysize`, `hashsize`; `store`, `bitmap`, `sync`, `udp`, `purge_lru` and the other keys are refused naming themselves. A value larger than `blocksize` is not stored; a full cache stores nothing new (logged once).",
                   "`name=NAME,items=N[,blocksize=BYTES][,keysize=BYTES][,hashsize=N]`: a cache shared by every worker (`uwsgi.cache_get/set/update/del/exists/clear`), kept across rolling reloads; blocksize 64k and keysize 2048 by default."),
        OptionSpec("cache", .int, roles: .zerg, "uWSGI's older form: a cache named `default` of this many items (`cache-blocksize` bytes each)."),
        OptionSpec("cache-blocksize", .size, default: "65536", roles: .zerg, "The largest value of the `cache` cache."),
        OptionSpec("attach-daemon", .string, list: true, roles: .zerg,
                   difference: "A reload of the workers never restarts it (uWSGI restarts non-smart daemons on reload).",
                   "A command (`/bin/sh -c`) the zerg master runs beside the workers and starts again when it exits (1 s, doubling to 30 s while it keeps dying); stopped with the zerg (SIGTERM, SIGKILL after `reload-mercy`)."),
        OptionSpec("smart-attach-daemon", .string, list: true, roles: .zerg,
                   "`PIDFILE COMMAND`: a command that daemonizes itself and writes PIDFILE; started only while no live process is named there (checked every second), so it outlives restarts of the zerg."),
        OptionSpec("attach-daemon2", .string, list: true, roles: .zerg,
                   difference: "Keys `cmd`, `pidfile`, `stopsignal`, `freq` only; others are named as not offered.",
                   "`cmd=COMMAND[,pidfile=PATH][,stopsignal=N][,freq=SECONDS]`: the keyed form."),
        OptionSpec("honour-range", .bool, roles: .zerg, "Static files answer a single `Range` request with 206 (416 when unsatisfiable)."),
        OptionSpec("module", .string, aliases: ["wsgi"], roles: .zerg, "`package.module[:callable]` holding the WSGI callable."),
        OptionSpec("callable", .string, default: "application", roles: .zerg, "Name of the WSGI callable."),
        OptionSpec("python-path", .path, list: true, aliases: ["pythonpath", "pp"], roles: .zerg, "Directory added to sys.path; repeatable."),
        OptionSpec("home", .path, aliases: ["virtualenv", "venv", "pyhome"], roles: .zerg, "Virtualenv whose packages the app imports."),
        OptionSpec("chdir", .path, roles: .all, "Directory to change to before loading the app."),
        OptionSpec("lazy-apps", .bool, default: "true", roles: .zerg, support: .noEffect("apps always load in each worker after it starts (the master never forks a loaded app)"), "uWSGI: load the app in each worker instead of the master."),
        OptionSpec("log-format", .string, aliases: ["logformat"], roles: .zerg, "Request log line format with `%(var)` tokens."),
        OptionSpec("log-x-forwarded-for", .bool, roles: .zerg, "Log the X-Forwarded-For address as the client address."),
        OptionSpec("http-allow-underscore-headers", .bool, default: "false", roles: .zerg,
                   difference: "Ours (nginx: underscores_in_headers). uWSGI passes them, so `X_Forwarded_For` and `X-Forwarded-For` land in the same environ key.",
                   "Pass request headers whose names contain `_` to the app (by default they are dropped, as nginx and gunicorn do: a client could otherwise spoof `X-Forwarded-For` as `X_Forwarded_For` past a proxy that filters only the dashed name)."),
        OptionSpec("req-logger", .string, list: true, aliases: ["logger-req"], roles: .zerg,
                   difference: "Plugins `file` (`file:PATH`, `file:logfile=PATH`), `stdio` and `syslog` only; each worker writes them itself.",
                   "Where request log lines go; several lines: each request line to every one (`file:PATH`, `stdio`: standard error, `syslog[:IDENT[,FACILITY]]`: the local syslog through /dev/log, ident `uwsgi` and facility `daemon` by default)."),
        OptionSpec("logger", .string, list: true, roles: .all,
                   difference: "Plugins `file` (`file:PATH`, `file:logfile=PATH`), `stdio` and `syslog` only; `log-route`/`log-encoder` are not offered.",
                   "Where the log goes, besides `logto`; several lines: every line to each (`file:PATH`, `stdio`, `syslog[:IDENT[,FACILITY]]`). On a zerg with more than one target, or syslog, the workers', daemons' and the app's output goes through the master, which passes each line on (uWSGI's `log-master`)."),
        OptionSpec("log-date", .string, aliases: ["logdate"], roles: .all,
                   difference: "Applies to the program's own lines; request lines keep their `log-format`, and the app's prints are passed on as written.",
                   "The time at the start of each log line: `true` for `Sun Nov 29 19:40:06 2026 -`, or a strftime format (`%Y-%m-%dT%H:%M:%S`)."),
        OptionSpec("log-reopen", .bool, roles: .zerg, "Open the log files again at each reload (as `touch-logreopen` does)."),
        OptionSpec("log-master", .bool, roles: .zerg, support: .noEffect("the master passes the children's output on whenever there are several log targets or syslog, and otherwise every process writes the one file itself"), "uWSGI: the master writes the log."),
        OptionSpec("procname-master", .string, roles: [.vassal, .zerg], "Process name of the zerg master, or of the vassal."),
        OptionSpec("procname", .string, roles: [.vassal, .zerg], "Process name of the workers (of the vassal, without `procname-master`)."),
        OptionSpec("auto-procname", .bool, roles: .all, "Descriptive process names: `zerg master`, `zerg worker N`, `vassal BUILD`, `emperor`."),
        OptionSpec("pidfile", .path, aliases: ["safe-pidfile"], roles: [.vassal, .zerg],
                   difference: "Always written atomically (a temporary file renamed), as uWSGI's `safe-pidfile`.",
                   "Write the master's pid to this file."),
        OptionSpec("no-orphans", .bool, roles: .zerg, support: .noEffect("workers always die with their master (a parent-death signal)"), "uWSGI: kill workers whose master died."),
        OptionSpec("need-app", .bool, roles: .zerg, difference: "Without it we answer 503 and retry with backoff; uWSGI without it serves no app.",
                   "If the app does not load when the zerg starts, stop with status 22 instead of retrying (a deploy script or supervisor sees the failure)."),
        OptionSpec("log-4xx", .bool, roles: .zerg, "With `disable-logging`: still log requests answered 4xx."),
        OptionSpec("log-5xx", .bool, roles: .zerg, "With `disable-logging`: still log requests answered 5xx."),
        OptionSpec("procname-prefix", .string, roles: .all, "Put this before every process name (names are set even without `auto-procname`)."),
        OptionSpec("procname-prefix-spaced", .string, roles: .all, "`procname-prefix` followed by a space."),
        OptionSpec("procname-append", .string, roles: .all, "Put this after every process name."),
    ]

    static let lifecycle: [OptionSpec] = [
        OptionSpec("memory-report", .bool, roles: .zerg, "Add RSS/VSZ to request log lines and stats."),
        OptionSpec("cheaper", .int, default: "0", roles: .zerg, "Minimum number of workers kept (0: adaptive count off)."),
        OptionSpec("cheaper-initial", .int, roles: .zerg, "Workers started at boot (default: `cheaper`)."),
        OptionSpec("cheaper-step", .int, default: "1", roles: .zerg, difference: "Default 1 for every algorithm (uWSGI's spare2 never spawns with its default 0).", "Workers added per step."),
        OptionSpec("cheaper-overload", .int, default: "3", roles: .zerg, "busyness: the window in seconds over which busyness is averaged; spare: busy cycles before adding; backlog: the queue length that adds workers."),
        OptionSpec("cheaper-idle", .int, default: "10", roles: .zerg, "spare2: idle cycles before a worker is retired."),
        OptionSpec("cheaper-algo", .string, default: "spare", roles: .zerg, "spare, spare2, backlog, busyness or manual (an unknown name is spare, as in uWSGI)."),
        OptionSpec("cheaper-busyness-min", .int, default: "25", roles: .zerg, "Busyness % below which a worker is retired."),
        OptionSpec("cheaper-busyness-max", .int, default: "50", roles: .zerg, "Busyness % above which a worker is added."),
        OptionSpec("cheaper-busyness-multiplier", .int, default: "10", roles: .zerg, "Checks of low busyness before a worker is retired."),
        OptionSpec("cheaper-busyness-penalty", .int, default: "2", roles: .zerg, difference: "Default 2, as uWSGI's code (its docs say 1).", "Added to the multiplier when a retired worker had to come back soon."),
        OptionSpec("cheaper-busyness-backlog-alert", .int, default: "33", roles: .zerg, difference: "The backlog is the vassal's dispatch queue in zerg mode (the kernel's accept queue standalone).", "Queue depth that adds workers regardless of busyness."),
        OptionSpec("cheaper-busyness-backlog-multiplier", .int, default: "3", roles: .zerg, "Checks over the backlog alert before adding workers."),
        OptionSpec("cheaper-busyness-backlog-step", .int, default: "1", roles: .zerg, "Workers added on a backlog alert."),
        OptionSpec("cheaper-busyness-backlog-nonzero", .int, default: "60", roles: .zerg, "Seconds of a non-empty queue before a worker is added."),
        OptionSpec("max-requests", .int, default: "0", roles: .zerg, "Recycle a worker after this many requests."),
        OptionSpec("max-requests-delta", .int, default: "0", roles: .zerg, "Spread `max-requests` by worker id times this."),
        OptionSpec("max-worker-lifetime", .int, default: "0", roles: .zerg, "Recycle a worker after this many seconds."),
        OptionSpec("max-worker-lifetime-delta", .int, default: "0", roles: .zerg, "Spread `max-worker-lifetime` by worker id times this many seconds."),
        OptionSpec("min-worker-lifetime", .int, default: "10", roles: .zerg, "Seconds a worker runs before it may be recycled."),
        OptionSpec("reload-on-rss", .int, default: "0", roles: .zerg, "Recycle a worker above this many MB of RSS."),
        OptionSpec("reload-on-as", .int, default: "0", roles: .zerg, "Recycle a worker above this many MB of address space."),
        OptionSpec("evil-reload-on-rss", .int, default: "0", roles: .zerg, "Kill a worker above this many MB of RSS (checked by the master)."),
        OptionSpec("evil-reload-on-as", .int, default: "0", roles: .zerg, "Kill a worker above this many MB of address space (checked by the master)."),
        OptionSpec("harakiri", .int, default: "0", roles: .zerg, "Seconds a request may run before its worker is killed (and replaced)."),
        OptionSpec("harakiri-graceful-timeout", .int, default: "0", roles: .zerg, "With harakiri: send `harakiri-graceful-signal` first and SIGKILL this many seconds later."),
        OptionSpec("harakiri-graceful-signal", .int, default: "15", roles: .zerg, "Signal number of the first, graceful harakiri attempt."),
        OptionSpec("touch-reload", .path, list: true, roles: [.vassal, .zerg],
                   difference: "Seen through inotify within milliseconds (uWSGI polls every second). On a zerg it is a rolling worker reload (the master never re-execs).",
                   "Gracefully reload when this file is touched (or appears, or goes away)."),
        OptionSpec("touch-workers-reload", .path, list: true, roles: .zerg,
                   difference: "Rolling: one worker at a time, each replacement ready (app loaded, warm-up done) before the old one drains (uWSGI stops them all at once).",
                   "Rolling worker reload when this file is touched."),
        OptionSpec("touch-chain-reload", .path, list: true, roles: .zerg, "Chain reload (one worker at a time) when touched: the same as touch-workers-reload here."),
        OptionSpec("touch-logreopen", .path, list: true, roles: .all, "Reopen log files when touched."),
        OptionSpec("warmup", .string, list: true, roles: .zerg, difference: "New.", "Path (`/path?query`) run through the app in-process by each new worker before it takes traffic; repeatable."),
        OptionSpec("warmup-requests", .int, default: "1", roles: .zerg, difference: "New.", "How many times each `warmup` path is run."),
    ]

    /// Name or alias → spec.
    public static let byName: [String: OptionSpec] = {
        var map: [String: OptionSpec] = [:]
        for spec in all {
            map[spec.name] = spec
            for alias in spec.aliases { map[alias] = spec }
        }
        return map
    }()

    public static func spec(_ name: String) -> OptionSpec? { byName[name] }

    /// uWSGI's one-letter flags (`-M -p 4 -w app`): the option each stands for,
    /// whether it takes a value (`-p 4` or `-p4`), and the value of a flag whose
    /// value is optional and must then be attached (`-C` is `-C666`).
    public static let shortFlags: [Character: (name: String, takesValue: Bool, bare: String?)] = [
        "M": ("master", false, nil), "p": ("processes", true, nil), "w": ("module", true, nil), "s": ("socket", true, nil),
        "H": ("home", true, nil), "b": ("buffer-size", true, nil), "t": ("harakiri", true, nil), "L": ("disable-logging", false, nil),
        "T": ("enable-threads", false, nil), "C": ("chmod-socket", false, "666"), "R": ("max-requests", true, nil),
        "i": ("single-interpreter", false, nil), "z": ("socket-timeout", true, nil), "d": ("daemonize", true, nil),
    ]

    /// The known option nearest to an unknown key, when it is a plausible typo.
    public static func suggestion(for key: String) -> String? {
        let limit = key.count <= 4 ? 1 : 2
        var best: (String, Int)?
        for name in byName.keys {
            let d = EditDistance.between(key, name, limit: limit)
            if d <= limit, best == nil || d < best!.1 || (d == best!.1 && name < best!.0) { best = (name, d) }
        }
        return best?.0
    }
}
