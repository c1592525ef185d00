/// An n-dimensional array: row-major values and their shape (a layer's weights, a
/// selection mask, a dataset read from HDF5).
public struct ShapedArray<Element: Sendable & Equatable>: Sendable, Equatable {
    public var values: [Element]
    public var shape: [Int]

    public init(values: [Element], shape: [Int]) {
        precondition(values.count == shape.reduce(1, *), "values do not fill the shape")
        self.values = values
        self.shape = shape
    }
}
