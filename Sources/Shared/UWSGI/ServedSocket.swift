/// A socket served to clients, and what it speaks there.
public struct ServedSocket: Equatable, CustomStringConvertible {
    public let address: ListenAddress
    public let wire: WireProtocol

    public init(address: ListenAddress, wire: WireProtocol) {
        self.address = address
        self.wire = wire
    }

    public var description: String { wire == .http ? address.description : "\(address) (uwsgi)" }

    /// The sockets a config serves: `http-options` (HTTP), then `socket`
    /// (`uwsgi-socket`), which speaks `protocol` (default uwsgi, as in uWSGI).
    public static func all(in config: Configuration, http httpOptions: [String] = ["http-socket"],
                           problems: inout [ConfigDiagnostic]) -> [ServedSocket] {
        var socketWire = WireProtocol.uwsgi
        if let entry = config.occurrences("protocol").last {
            if let wire = WireProtocol(option: entry.value) {
                socketWire = wire
            } else {
                problems.append(ConfigDiagnostic(entry.origin, "`protocol = \(entry.value)`: expected `uwsgi` or `http`"))
            }
        }
        var sockets: [ServedSocket] = []
        for (option, wire) in httpOptions.map({ ($0, WireProtocol.http) }) + [("socket", socketWire)] {
            for entry in config.occurrences(option) {
                if let address = ListenAddress(parsing: entry.value) {
                    sockets.append(ServedSocket(address: address, wire: wire))
                } else {
                    problems.append(ConfigDiagnostic(entry.origin, "`\(entry.key) = \(entry.value)`: expected `[host]:port` or a socket path"))
                }
            }
        }
        return sockets
    }
}
