/// What a listening socket speaks: HTTP/1.1 (`http-socket`, a vassal's `http`)
/// or uWSGI's binary protocol (`socket`/`uwsgi-socket`, what nginx's
/// `uwsgi_pass` sends), so that a site behind nginx keeps its nginx config.
public enum WireProtocol: String, Sendable, Equatable {
    case http
    case uwsgi

    /// `protocol = NAME` (uWSGI's spelling; nil: not one we serve).
    public init?(option value: String) {
        self.init(rawValue: value.lowercased())
    }
}
