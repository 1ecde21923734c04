#if canImport(Glibc)
import Glibc
#endif
import PythonGlue
import Shared
import ZergCore

/// The request being served (a worker serves one at a time).
final class RequestState {
    let conn: Connection
    let head: HTTPRequestHead
    let body: RequestBody
    let response: Response
    /// The request as sent in the uwsgi protocol (its vars are the environ).
    let uwsgi: UWSGIRequest?
    /// The app serving it (an index into `AppMounts.apps`).
    var app = 0
    var logvars: [String: String] = [:]
    var continuePending: Bool

    init(conn: Connection, head: HTTPRequestHead, uwsgi: UWSGIRequest?, body: RequestBody, response: Response) {
        self.conn = conn
        self.head = head
        self.uwsgi = uwsgi
        self.body = body
        self.response = response
        continuePending = head.expectsContinue
    }
}

/// Runs one request through the app: the environ, start_response and
/// write, the body the app reads, the response iteration, sendfile, close(),
/// the accounting in the scoreboard and the log line. It owns the current
/// request, and is the context the `_hadjango` callbacks receive
/// (`RequestCallbacks`): nothing about a request is reachable globally.
final class RequestRunner {
    let interpreter: Interpreter
    let settings: ZergSettings
    let workerID: Int
    /// Which request thread of the worker this runner serves on (0: the only one).
    let core: Int
    let requestLog: RequestLog?
    /// This worker's scoreboard row (nil: a lone worker without one).
    let row: Scoreboard.Row?
    /// The vassal's shared page (queue depth in word 0), once attached.
    var vassalBoard: SharedMemory?
    /// What the app's `uwsgi.reload()` does (tell the master).
    var onReloadRequest: () -> Void = {}

    private(set) var environ: EnvironBuilder
    /// The Date header's text, made once a second.
    let clock = HTTPDate()
    private lazy var emptyTuple: PyPtr = pg_tuple_new(0)!
    /// The request in progress (start_response, write and wsgi.input act on it).
    private(set) var current: RequestState?

    private(set) var requestsServed = 0
    private(set) var exceptions = 0
    /// Moving average of this worker's request times (1/8 weight to the newest).
    private(set) var averageNs: UInt64 = 0
    /// Status of the last response (warm-up reports it).
    private(set) var lastStatus = 0
    /// Warm-up requests are not logged as client requests.
    var warmingUp = false
    /// Sampled after requests when something reads it (memory-report, reload-on-*).
    private(set) var memory: (rss: Int64, vsz: Int64) = (0, 0)

    init(interpreter: Interpreter, settings: ZergSettings, workerID: Int, core: Int, row: Scoreboard.Row?) throws {
        self.interpreter = interpreter
        self.settings = settings
        self.workerID = workerID
        self.core = core
        self.row = row
        if settings.disableLogging && settings.forcedLogging.isEmpty {
            requestLog = nil
        } else {
            let outputs = try settings.requestLogTargets.isEmpty ? [.file(path: nil, fd: Log.destination)]
                : settings.requestLogTargets.map(LogOutput.open)
            requestLog = RequestLog(format: settings.logFormat, xForwardedFor: settings.logXForwardedFor, outputs: outputs,
                                    memoryReport: settings.lifecycle.memoryReport)
        }
        environ = EnvironBuilder(interpreter: interpreter, allowUnderscoreHeaders: settings.allowUnderscoreHeaders,
                                 multithread: settings.threads > 1)
        bindToThisThread()
    }

    /// The `_hadjango` callbacks called on this thread act on this runner's
    /// request (each request thread of a worker has its own runner).
    func bindToThisThread() {
        interpreter.setCallbackContext(Unmanaged.passUnretained(self).toOpaque())
    }

    /// Runs one request (`uwsgi`: as sent in the uwsgi protocol); returns
    /// whether the connection stays open.
    func run(_ conn: Connection, _ head: HTTPRequestHead, uwsgi: UWSGIRequest? = nil) -> Bool {
        let startNs = Host.monotonicNanoseconds()
        let startTime = requestLog == nil ? Timestamp(seconds: 0, nanoseconds: 0) : Timestamp.now()  // for the log line only
        if let row {
            head.bytes.withUnsafeBytes {
                row.board.beginRequest(row: row.index, text: UnsafeRawBufferPointer(rebasing: $0[head.method.lowerBound..<head.target.upperBound]),
                                       nowNs: startNs)
            }
        }
        defer { row?[.requestStart] = 0 }
        let body = RequestBody(head.framing, deadlines: settings.requestDeadlines, startNs: startNs)
        defer { if body.tooSlow { row?.board.add(.bodyTimeouts, 1) } }
        let response = Response(conn: conn, head: head, timeoutMs: settings.socketTimeoutMs, clock: clock)
        let state = RequestState(conn: conn, head: head, uwsgi: uwsgi, body: body, response: response)
        var contentLength: Int?
        if head.framing == .chunked {
            sendContinueIfExpected(state)
            switch body.decodeChunked(from: conn, timeoutMs: settings.socketTimeoutMs) {
            case .success(let bytes):
                body.source = .decoded(bytes, offset: 0)
                contentLength = bytes.count
            case .failure(let error):
                Log.info("\(conn.remote.host):\(conn.remote.port): \(error)")
                response.sendError(error.status, error.reason)
                noteResponse(state, startNs: startNs, startTime: startTime)
                return false
            }
        }
        // Which app (with mounts): by PATH_INFO (manage-script-name) or SCRIPT_NAME.
        var mountpoint: String?
        if settings.mounts.selects {
            let pathInfo = uwsgi?.value("PATH_INFO") ?? head.bytes.withUnsafeBufferPointer {
                String(decoding: HTTPBytes.percentDecoded(UnsafeBufferPointer(rebasing: $0[head.path])), as: UTF8.self)
            }
            guard let selected = settings.mounts.select(pathInfo: pathInfo, scriptName: uwsgi?.value("SCRIPT_NAME")) else {
                response.sendError(404, "no app is mounted at \(pathInfo) (mount, manage-script-name)")
                noteResponse(state, startNs: startNs, startTime: startTime)
                return false
            }
            state.app = selected.index
            mountpoint = selected.mountpoint
        }
        current = state
        defer { current = nil }

        let input = pg_call(interpreter.inputType, emptyTuple, nil)!
        let env = uwsgi.map { environ.build(uwsgi: $0, input: input, mountpoint: mountpoint) }
            ?? environ.build(head: head, conn: conn, input: input, contentLength: contentLength, mountpoint: mountpoint)
        let result = pg_call2(interpreter.apps[state.app], env, interpreter.startResponse)
        if let result {
            emit(result, state)
            callClose(result)
            pg_decref(result)
        } else {
            appFailed(state)
        }
        pg_decref(env)
        pg_decref(input)
        response.finish()
        account(state, startNs: startNs, startTime: startTime)

        var keep = response.keepAlive && !conn.broken
        if keep && state.continuePending && body.unread > 0 {
            keep = false  // the client may still be waiting to send a body nobody asked for
        }
        if keep && !body.discardRest(from: conn) { keep = false }
        return keep
    }

    /// After a response: counters in the scoreboard, the memory sample, the log line.
    private func account(_ state: RequestState, startNs: UInt64, startTime: Timestamp) {
        let response = state.response
        requestsServed += 1
        lastStatus = response.statusCode
        if settings.lifecycle.samplesMemory { sampleMemory() }
        let elapsedNs = Host.monotonicNanoseconds() - startNs
        averageNs = averageNs - averageNs / 8 + elapsedNs / 8
        if let row {
            row[.requests] = Int64(requestsServed)
            row.add(.busyMicros, Int64(elapsedNs / 1000))
            row.add(.tx, Int64(response.headBytes + response.bodyBytes))
            if let board = vassalBoard { row[.backlog] = board[HandoffBoard.waiting] }
        }
        noteResponse(state, startNs: startNs, startTime: startTime, durationNs: elapsedNs)
    }

    /// RSS and VSZ from /proc/self/statm, into the scoreboard (for stats and the master).
    func sampleMemory() {
        guard let sample = ChildProcess.memory(nil) else { return }
        memory = sample
        row?[.rss] = sample.rss
        row?[.vsz] = sample.vsz
    }

    /// `Expect: 100-continue`: the interim response, once, when the app first reads the body.
    func sendContinueIfExpected(_ r: RequestState) {
        guard r.continuePending else { return }
        r.continuePending = false
        if r.conn.pending == 0 && r.body.unread > 0 {
            r.conn.write(Array("HTTP/1.1 100 Continue\r\n\r\n".utf8), timeoutMs: settings.socketTimeoutMs)
        }
    }

    /// The app raised: a 500 if nothing was sent yet, else the connection closes.
    func appFailed(_ r: RequestState) {
        exceptions += 1
        row?[.exceptions] = Int64(exceptions)
        let e = Py.fetchException()
        let what = "\(r.head.methodText) \(r.head.targetText)"
        if let e { Log.info("exception in the app (\(what)): \(e.summary)\n\(e.traceback)", terminator: "") }
        if !r.response.headersSent {
            if let bodyError = r.body.error {
                r.response.sendError(bodyError.status, bodyError.reason)
            } else {
                r.response.sendError(500, "The application raised an exception; details are in the server log.")
            }
        } else {
            r.response.keepAlive = false
            r.conn.broken = true
        }
    }

    /// A response is sent: the zerg's tally (the emperor's history reads it) and the request log.
    func noteResponse(_ r: RequestState, startNs: UInt64, startTime: Timestamp, durationNs measured: UInt64? = nil) {
        guard !warmingUp else { return }
        let durationNs = measured ?? Host.monotonicNanoseconds() - startNs
        row?.board.recordResponse(status: r.response.statusCode, micros: Int64(durationNs / 1000))
        guard let log = requestLog else { return }
        // With disable-logging, only what log-4xx / log-5xx keep.
        if settings.disableLogging && !settings.forcedLogging.forces(
            status: r.response.statusCode, durationNs: durationNs, bodyBytes: r.response.bodyBytes, ioError: r.conn.broken) { return }
        log.write(RequestRecord(
            head: r.head, remote: r.uwsgi?.value("REMOTE_ADDR") ?? r.conn.remote.host, status: r.response.statusCode, bodyBytes: r.response.bodyBytes,
            headBytes: r.response.headBytes, startTime: startTime, durationNs: durationNs,
            workerID: workerID, core: core, app: r.app, requestsByWorker: requestsServed, varCount: r.head.fields.count + 17, logvars: r.logvars,
            rss: memory.rss, vsz: memory.vsz))
    }
}
