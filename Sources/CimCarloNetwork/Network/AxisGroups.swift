/// The elements of one sample grouped along some axes, as memory offsets: one group per index
/// of the other axes (row-major), each holding the elements along the grouped axes (row-major).
/// What softmax, reductions and layer normalisation work over, in any layout.
public struct AxisGroups: Sendable, Equatable {
    /// Members per group.
    public var length: Int
    /// `groupCount × length` memory offsets within a sample.
    public var members: [Int32]

    public var groupCount: Int { length == 0 ? 0 : members.count / length }

    /// Groups of `shape` along `axes` (distinct, in `0 ..< rank`).
    public init(shape: ActivationShape, axes: [Int]) {
        let strides = shape.strides
        let grouped = axes.sorted()
        let kept = (0..<shape.rank).filter { !grouped.contains($0) }
        let bases = ActivationShape.offsets(
            dimensions: kept.map { shape.dimensions[$0] }, strides: kept.map { strides[$0] })
        let within = ActivationShape.offsets(
            dimensions: grouped.map { shape.dimensions[$0] }, strides: grouped.map { strides[$0] })
        length = within.count
        var members: [Int32] = []
        members.reserveCapacity(bases.count * within.count)
        for base in bases {
            for offset in within { members.append(base + offset) }
        }
        self.members = members
    }
}
