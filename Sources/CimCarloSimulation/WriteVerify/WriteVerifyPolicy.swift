/// Which weights a chip's programming flow write-verifies.
///
/// `none` and `all` need no selection; the budgeted kinds verify the `budget` fraction of
/// weights with the highest score (see `PolicySelector`), the same weights on every chip.
public struct WriteVerifyPolicy: Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable, CaseIterable {
        /// One-shot programming of every device.
        case none
        /// Write-verify every device.
        case all
        /// A uniformly random subset.
        case random
        /// The largest |w| / max|W|.
        case magnitude
        /// The largest first-order sensitivity |max|W| · ∂L/∂w|.
        case gradient
        /// SWIM's second-derivative score |S + 2g| + 1e-6·|w|/max|W| (Yan et al., DAC 2022).
        case swim
        /// Variance-aware: curvature × the weight variance write-verify removes from its devices.
        case variance

        /// Whether the kind takes a budget (`kind@fraction`).
        public var isBudgeted: Bool { self != .none && self != .all }
        /// Whether the kind ranks by derivatives of the loss (needs the training set).
        public var needsSensitivity: Bool { self == .gradient || self == .swim || self == .variance }
    }

    public var kind: Kind
    /// Requested fraction of weights to verify, in [0, 1].
    public var budget: Double
    /// Per mapped layer, 1 where the weight is write-verified; empty until selected (and for none/all).
    public var selection: [[UInt8]]

    public init(kind: Kind, budget: Double? = nil) {
        self.kind = kind
        self.budget = budget ?? (kind == .all ? 1 : 0)
        selection = []
    }

    /// Parses `none`, `all` or `kind@fraction` (e.g. `swim@0.1`).
    public init?(name: String) {
        let parts = name.split(separator: "@", omittingEmptySubsequences: false)
        guard let kind = Kind(rawValue: String(parts[0])) else { return nil }
        if kind.isBudgeted {
            guard parts.count == 2, let budget = Double(parts[1]), (0...1).contains(budget) else { return nil }
            self.init(kind: kind, budget: budget)
        } else {
            guard parts.count == 1 else { return nil }
            self.init(kind: kind)
        }
    }

    /// The label stored in `/policy`, e.g. `swim@0.1`.
    public var description: String {
        kind.isBudgeted ? "\(kind.rawValue)@\(Self.format(budget))" : kind.rawValue
    }

    private static func format(_ value: Double) -> String {
        var text = String(value)
        if text.hasSuffix(".0") { text.removeLast(2) }
        return text
    }

    /// Fraction of weights actually write-verified.
    public var verifiedFraction: Double {
        switch kind {
        case .none: return 0
        case .all: return 1
        default:
            let total = selection.reduce(0) { $0 + $1.count }
            let chosen = selection.reduce(0) { $0 + $1.reduce(0) { $0 + Int($1) } }
            return total == 0 ? budget : Double(chosen) / Double(total)
        }
    }

    /// Whether any device is verified (reference columns are verified then too).
    public var verifiesAnything: Bool { kind == .all || (kind.isBudgeted && budget > 0) }

    /// The names a run spec may use.
    public static let allowedNames =
        "none, all, or KIND@FRACTION with KIND one of "
        + Kind.allCases.filter(\.isBudgeted).map(\.rawValue).joined(separator: ", ")
}
