#if canImport(Glibc)
import Glibc
#endif

/// How a response body is delimited on the wire.
public enum ResponseFraming: Equatable, Sendable {
    /// Content-Length: exactly this many bytes.
    case length(Int)
    /// Transfer-Encoding: chunked (HTTP/1.1 only).
    case chunked
    /// Delimited by closing the connection (HTTP/1.0 without a length).
    case close
    /// HEAD, 1xx, 204, 304: no body whatever the headers say.
    case none
}

/// Builds response heads and checks what an application supplied.
public enum HTTPResponseHead {
    /// A status line's text must be `DDD reason`, with no control characters.
    public static func statusCode(of status: String) -> Int? {
        var status = status
        return status.withUTF8 { statusCode(of: UnsafeRawBufferPointer($0)) }
    }

    /// The same check on the status's bytes (the per-request path: no string is built).
    public static func statusCode(of u: UnsafeRawBufferPointer) -> Int? {
        guard u.count >= 3, u.count == 3 || u[3] == HTTPBytes.space else { return nil }
        var code = 0
        for i in 0..<3 {
            guard u[i] >= 48 && u[i] <= 57 else { return nil }
            code = code * 10 + Int(u[i] - 48)
        }
        for c in u where !HTTPBytes.isValueByte(c) || c == HTTPBytes.tab { return nil }
        return code >= 100 ? code : nil
    }

    /// Whether a response with this status (to this method) may carry a body.
    public static func bodyAllowed(status: Int, isHead: Bool) -> Bool {
        !(isHead || (100...199).contains(status) || status == 204 || status == 304)
    }

    public static func isValidName<C: Collection>(_ name: C) -> Bool where C.Element == UInt8 {
        !name.isEmpty && name.allSatisfy(HTTPBytes.isToken)
    }

    public static func isValidValue<C: Collection>(_ value: C) -> Bool where C.Element == UInt8 {
        value.allSatisfy(HTTPBytes.isValueByte)
    }

    /// Serialises a head. `headers` were checked by the caller; the framing
    /// headers (Content-Length/Transfer-Encoding/Connection) are written here.
    public static func serialize(
        status: String, headers: [(String, String)], minorVersion: Int, framing: ResponseFraming,
        keepAlive: Bool, appSetLength: Bool
    ) -> [UInt8] {
        var block: [UInt8] = []
        var hasDate = false
        for (name, value) in headers {
            if !hasDate && HTTPBytes.equalsIgnoringCase(name.utf8, "date") { hasDate = true }
            block += name.utf8
            block += ": ".utf8
            block += value.utf8
            block += "\r\n".utf8
        }
        var out: [UInt8] = []
        serialize(status: Array(status.utf8), headerBlock: block, date: hasDate ? nil : HTTPDate.text(of: time(nil)),
                  minorVersion: minorVersion, framing: framing, keepAlive: keepAlive, appSetLength: appSetLength, into: &out)
        return out
    }

    /// Appends a head to `out`. `headerBlock` holds the application's
    /// `Name: value\r\n` lines, already checked.
    /// `date`: the Date header's value, nil when the app set one.
    public static func serialize(
        status: [UInt8], headerBlock: [UInt8], date: String?, minorVersion: Int, framing: ResponseFraming,
        keepAlive: Bool, appSetLength: Bool, into out: inout [UInt8]
    ) {
        out.reserveCapacity(out.count + headerBlock.count + 128)
        out += (minorVersion == 0 ? "HTTP/1.0 " : "HTTP/1.1 ").utf8
        out += status
        out += "\r\n".utf8
        out += headerBlock
        if let date {
            out += "Date: ".utf8
            out += date.utf8
            out += "\r\n".utf8
        }
        switch framing {
        case .length(let n) where !appSetLength:
            out += "Content-Length: ".utf8
            out += String(n).utf8
            out += "\r\n".utf8
        case .chunked:
            out += "Transfer-Encoding: chunked\r\n".utf8
        default:
            break
        }
        if !keepAlive {
            out += "Connection: close\r\n".utf8
        } else if minorVersion == 0 {
            out += "Connection: keep-alive\r\n".utf8
        }
        out += "\r\n".utf8
    }

    /// A complete small response the server writes itself (errors).
    public static func simple(status: Int, message: String, minorVersion: Int = 1, keepAlive: Bool = false,
                              extraHeaders: [(String, String)] = []) -> [UInt8] {
        let body = Array("\(status) \(HTTPStatus.phrase(status))\n\(message)\n".utf8)
        var out = serialize(
            status: "\(status) \(HTTPStatus.phrase(status))",
            headers: [("Content-Type", "text/plain; charset=utf-8")] + extraHeaders,
            minorVersion: minorVersion, framing: .length(body.count), keepAlive: keepAlive, appSetLength: false)
        out += body
        return out
    }
}

/// The IMF-fixdate for the Date header, computed at most once per second by
/// whoever owns one (each worker's request runner: nothing process-wide).
public final class HTTPDate {
    private var second: time_t = -1
    private var text = ""

    public init() {}

    static let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// Now, from the cache when the second has not changed.
    public func now() -> String {
        let t = time(nil)
        if t != second {
            text = Self.text(of: t)
            second = t
        }
        return text
    }

    /// The time an IMF-fixdate names (`If-Modified-Since`); nil for any other form.
    public static func parse(_ text: String) -> time_t? {
        // `Sun, 06 Nov 1994 08:49:37 GMT`
        let f = text.split(separator: " ")
        guard f.count == 6, f[0].count == 4, days.contains(String(f[0].dropLast())), f[5] == "GMT",
              let day = Int(f[1]), (1...31).contains(day), let month = months.firstIndex(of: String(f[2])),
              let year = Int(f[3]), year >= 1970 else { return nil }
        let clock = f[4].split(separator: ":").compactMap { Int($0) }
        guard clock.count == 3, (0..<24).contains(clock[0]), (0..<60).contains(clock[1]), (0...60).contains(clock[2]) else { return nil }
        // Days since 1970-01-01 of a proleptic Gregorian date (the civil-from-days inverse).
        let y = month < 2 ? year - 1 : year
        let era = y / 400
        let yoe = y - era * 400
        let doy = (153 * (month + (month > 1 ? -2 : 10)) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        let daysSinceEpoch = era * 146_097 + doe - 719_468
        return time_t(daysSinceEpoch * 86_400 + clock[0] * 3600 + clock[1] * 60 + clock[2])
    }

    public static func text(of t: time_t) -> String {
        var t = t
        var parts = tm()
        gmtime_r(&t, &parts)
        func pad(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "\(days[Int(parts.tm_wday)]), \(pad(parts.tm_mday)) \(months[Int(parts.tm_mon)]) \(parts.tm_year + 1900) "
            + "\(pad(parts.tm_hour)):\(pad(parts.tm_min)):\(pad(parts.tm_sec)) GMT"
    }
}
