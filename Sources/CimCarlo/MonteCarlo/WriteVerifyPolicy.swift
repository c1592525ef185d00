/// Which weights a chip's programming flow write-verifies.
public struct WriteVerifyPolicy: Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable, CaseIterable {
        /// One-shot programming of every device.
        case none
        /// Write-verify every device.
        case all
    }

    public var kind: Kind

    public init(kind: Kind) {
        self.kind = kind
    }

    /// Parses a policy name as written in run specs: `none` or `all`.
    public init?(name: String) {
        guard let kind = Kind(rawValue: name) else { return nil }
        self.init(kind: kind)
    }

    /// The label stored in `/policy`.
    public var description: String { kind.rawValue }

    /// Fraction of weights write-verified.
    public var budget: Double {
        switch kind {
        case .none: 0
        case .all: 1
        }
    }

    /// Whether weight `weightIndex` of mapped layer `layer` is write-verified.
    @inlinable
    public func verifies(layer: Int, weightIndex: Int) -> Bool {
        kind == .all
    }

    /// The names a run spec may use.
    public static let allowedNames = Kind.allCases.map(\.rawValue)
}
