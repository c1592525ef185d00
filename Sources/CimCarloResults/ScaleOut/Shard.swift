import Foundation

/// Shard `index` of `count` (`--shard k/N`, k from 0): the instances i with i mod N = k.
///
/// Interleaving (rather than contiguous blocks) gives every shard the same share of
/// instances to within one, whatever the total, and shards of one study differ only in
/// their instance indices: each instance's draws depend on (seed, instance) alone.
public struct Shard: Sendable, Equatable, CustomStringConvertible {
    public var index: Int
    public var count: Int

    public init(index: Int, count: Int) {
        precondition(count >= 1 && (0..<count).contains(index), "shard \(index)/\(count) is out of range")
        self.index = index
        self.count = count
    }

    /// Parses `k/N` with 0 ≤ k < N; nil for anything else.
    public init?(parsing text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let index = Int(parts[0]), let count = Int(parts[1]), count >= 1,
            (0..<count).contains(index)
        else { return nil }
        self.init(index: index, count: count)
    }

    public var description: String { "\(index)/\(count)" }

    /// This shard's instances of a study of `total`, ascending.
    public func instances(of total: Int) -> [Int] {
        Array(stride(from: index, to: total, by: count))
    }

    /// The shard file of the result `output`: `out/study.h5` → `out/study.shard-2-of-8.h5`.
    public func filePath(forResult output: String) -> String {
        let stem = (output as NSString).deletingPathExtension
        let suffix = (output as NSString).pathExtension
        return stem + ".shard-\(index)-of-\(count)" + (suffix.isEmpty ? "" : "." + suffix)
    }
}
