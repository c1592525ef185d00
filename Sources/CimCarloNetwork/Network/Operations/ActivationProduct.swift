import CimCarloSupport

/// ONNX MatMul between two computed values — attention's scores `q · kᵀ` and their weighted
/// sum `softmax(·) · v` — batched over the leading axes with NumPy broadcasting. Digital, as
/// on CiM chips: neither operand is a stored weight, so nothing maps onto crossbars (the
/// mapping report says so). Each matrix pair is gathered from its layout and multiplied by sgemm.
public struct ActivationProduct: NetworkOperation, Equatable {
    public static let kind = "activation_matmul"
    public var left: ActivationShape
    public var right: ActivationShape
    /// `[…, M, N]`, row-major.
    public var output: ActivationShape
    /// Per output matrix (row-major over the broadcast leading axes): the memory offset of the
    /// matching left and right matrices.
    public var leftBases: [Int32]
    public var rightBases: [Int32]

    /// `left [… , M, K] · right [… , K, N]`; throws when they do not fit.
    public init(left: ActivationShape, right: ActivationShape) throws(OperationShapeError) {
        guard left.rank >= 2, right.rank >= 2, left.dimensions.last! == right.dimensions[right.rank - 2] else {
            throw OperationShapeError("cannot multiply \(left) by \(right)")
        }
        let leading = try Broadcast.dimensions(
            Array(left.dimensions.dropLast(2)), Array(right.dimensions.dropLast(2)))
        self.left = left
        self.right = right
        let (m, n) = (left.dimensions[left.rank - 2], right.dimensions.last!)
        output = ActivationShape(dimensions: leading + [m, n])
        func bases(_ shape: ActivationShape) -> [Int32] {
            let strides = Array(shape.strides.dropLast(2))
            let own = Array(shape.dimensions.dropLast(2))
            let aligned = [Int](repeating: 1, count: leading.count - own.count) + own
            let alignedStrides = [Int](repeating: 0, count: leading.count - own.count) + strides
            return ActivationShape.offsets(
                dimensions: leading, strides: zip(aligned, alignedStrides).map { $0 == 1 ? 0 : $1 })
        }
        leftBases = bases(left)
        rightBases = bases(right)
    }

    private var m: Int { left.dimensions[left.rank - 2] }
    private var k: Int { left.dimensions[left.rank - 1] }
    private var n: Int { right.dimensions[right.rank - 1] }

    public func outputShape(for inputs: [ActivationShape]) throws(OperationShapeError) -> ActivationShape {
        guard inputs == [left, right] else { throw OperationShapeError("was made for inputs \(left), \(right)") }
        return output
    }

    /// Both matrices of one pair, then (backward) their derivatives.
    public func scratchCount(inputs: [ActivationShape], output: ActivationShape, batchSize: Int, backward: Bool) -> Int
    {
        (m * k + k * n) * (backward ? 2 : 1)
    }

    /// Copies the `rows × columns` matrix at `base` (strides of the last two axes) into `to`,
    /// squared when asked.
    @inline(__always)
    private func gather(
        _ from: UnsafeMutablePointer<Float>, _ shape: ActivationShape, base: Int, into to: UnsafeMutablePointer<Float>,
        squared: Bool = false
    ) {
        let strides = shape.strides
        let (rowStride, columnStride) = (strides[shape.rank - 2], strides[shape.rank - 1])
        let (rows, columns) = (shape.dimensions[shape.rank - 2], shape.dimensions[shape.rank - 1])
        for row in 0..<rows {
            for column in 0..<columns {
                let x = from[base &+ row &* rowStride &+ column &* columnStride]
                to[row &* columns &+ column] = squared ? x * x : x
            }
        }
    }

    @inline(__always)
    private func scatter(
        _ from: UnsafeMutablePointer<Float>, into target: UnsafeMutablePointer<Float>, _ shape: ActivationShape,
        base: Int
    ) {
        let strides = shape.strides
        let (rowStride, columnStride) = (strides[shape.rank - 2], strides[shape.rank - 1])
        let (rows, columns) = (shape.dimensions[shape.rank - 2], shape.dimensions[shape.rank - 1])
        for row in 0..<rows {
            for column in 0..<columns {
                target[base &+ row &* rowStride &+ column &* columnStride] += from[row &* columns &+ column]
            }
        }
    }

    public func forward(_ pass: ForwardPass) {
        let a = pass.scratch.baseAddress!
        let b = a + m * k
        for sample in 0..<pass.batchSize {
            let leftValues = pass.inputs[0].baseAddress! + sample &* left.count
            let rightValues = pass.inputs[1].baseAddress! + sample &* right.count
            for matrix in leftBases.indices {
                gather(leftValues, left, base: Int(leftBases[matrix]), into: a)
                gather(rightValues, right, base: Int(rightBases[matrix]), into: b)
                BLAS.gemm(
                    m: m, n: n, k: k, a: a, lda: k, b: b, ldb: n,
                    c: pass.output.baseAddress! + (sample &* output.count &+ matrix &* m &* n), ldc: n)
            }
        }
    }

    /// Gradient: `g_A = g · Bᵀ`, `g_B = Aᵀ · g`; curvature: the same with `A²` and `B²`.
    public func backward(_ pass: BackwardPass) {
        let a = pass.forward.scratch.baseAddress!
        let b = a + m * k
        let gradientA = b + k * n
        let gradientB = gradientA + m * k
        let squared = pass.mode == .curvature
        for sample in 0..<pass.forward.batchSize {
            let leftValues = pass.forward.inputs[0].baseAddress! + sample &* left.count
            let rightValues = pass.forward.inputs[1].baseAddress! + sample &* right.count
            for matrix in leftBases.indices {
                let offset = sample &* output.count &+ matrix &* m &* n
                let g = UnsafePointer(pass.outputGradient.baseAddress! + offset)
                if let target = pass.inputGradients[0] {
                    gather(rightValues, right, base: Int(rightBases[matrix]), into: b, squared: squared)
                    BLAS.gemm(transposeB: true, m: m, n: k, k: n, a: g, lda: n, b: b, ldb: n, c: gradientA, ldc: k)
                    scatter(
                        gradientA, into: target.baseAddress! + sample &* left.count, left, base: Int(leftBases[matrix]))
                }
                if let target = pass.inputGradients[1] {
                    gather(leftValues, left, base: Int(leftBases[matrix]), into: a, squared: squared)
                    BLAS.gemm(transposeA: true, m: k, n: n, k: m, a: a, lda: k, b: g, ldb: n, c: gradientB, ldc: n)
                    scatter(
                        gradientB, into: target.baseAddress! + sample &* right.count, right,
                        base: Int(rightBases[matrix]))
                }
            }
        }
    }
}

/// NumPy broadcasting of dimensions (ONNX's multidirectional broadcasting).
public enum Broadcast {
    /// The broadcast dimensions of `a` and `b`, aligned at the right.
    public static func dimensions(_ a: [Int], _ b: [Int]) throws(OperationShapeError) -> [Int] {
        let rank = max(a.count, b.count)
        let left = [Int](repeating: 1, count: rank - a.count) + a
        let right = [Int](repeating: 1, count: rank - b.count) + b
        var result: [Int] = []
        for (x, y) in zip(left, right) {
            guard x == y || x == 1 || y == 1 else {
                throw OperationShapeError("shapes \(a) and \(b) do not broadcast")
            }
            result.append(x == 1 ? y : x)
        }
        return result
    }

    /// For each element of `output` (row-major), the row-major index of the element of a tensor
    /// of dimensions `dimensions` that broadcasting reads.
    public static func sources(from dimensions: [Int], to output: [Int]) -> [Int32] {
        let aligned = [Int](repeating: 1, count: output.count - dimensions.count) + dimensions
        var strides = [Int](repeating: 0, count: aligned.count)
        var step = 1
        for axis in stride(from: aligned.count - 1, through: 0, by: -1) {
            strides[axis] = aligned[axis] == 1 ? 0 : step
            step *= aligned[axis]
        }
        return ActivationShape.offsets(dimensions: output, strides: strides)
    }
}
