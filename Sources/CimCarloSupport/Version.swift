/// cimcarlo's version, written into every file it produces.
public enum CimCarloVersion {
    public static let current = "0.2.0"
}
