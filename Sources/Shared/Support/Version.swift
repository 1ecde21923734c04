/// This implementation's version, reported where uWSGI reports its own (`%V`, stats `version`).
public enum Version {
    public static let string = "0.1.0"
}
