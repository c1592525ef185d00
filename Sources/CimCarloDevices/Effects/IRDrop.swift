import CimCarloSupport
import Foundation

/// IR drop: the resistance of the word and bit lines lowers the currents of a large array,
/// depending on the input and on the conductances along the lines — IBM aihwkit's per-read
/// correction (`applyIrDrop`, `src/rpucuda/rpu_forward_backward_pass.cpp`, IBM/aihwkit v0.5.1+,
/// `IOParameters.ir_drop` and `ir_drop_g_ratio`).
///
/// For one read of an array of n rows, with inputs `x_j` in units of their largest magnitude
/// (aihwkit's noise-managed input, |x| ≤ 1) and cells `w_ij` in units of the layer's (or column's)
/// quantisation scale — the cell's conductance as a fraction of g_max, which aihwkit also takes
/// as |w| — each output loses
///
///     Δy_i = k · c(a_i) · Σ_j w_ij x_j s_j,   a_i = n · r · g_max · Σ_j |w_ij| |x_j|,
///     c(a) = a/2 − a²/5 + a³/20,               s_j = 1 − (1 − j/n)²,
///
/// with r the wire resistance per cell segment (Ω), g_max the device's largest conductance (S)
/// (aihwkit's `ir_drop_g_ratio` is 1/(r·g_max)), k the scale (aihwkit's `ir_drop`) and row 0 next
/// to the sense amplifier. Layers taller than `array_rows` are read array by array. Costs two more
/// products per read (of |x| with |W|, and of s∘x with W).
///
/// A mean-field estimate of the bit line's drop: against a nodal solve of the same array with r on
/// both lines it corrects in the right direction but captures only part of the drop (IRDropTests;
/// the word lines carry about half of it). TOML: `[ir_drop] wire_ohms = …, scale = 1`.
public struct IRDrop: Sendable, Equatable {
    /// Resistance of one wire segment between adjacent cells, ohms.
    public var wireResistanceOhms: Double
    /// k: 1 applies the model as it stands; 0 turns it off.
    public var scale: Double

    public init(wireResistanceOhms: Double, scale: Double = 1) {
        self.wireResistanceOhms = wireResistanceOhms
        self.scale = scale
    }

    /// The `[ir_drop]` table of a device model file, nil without one.
    init?(_ reader: ConfigurationReader) throws {
        guard let table = try reader.table("ir_drop") else { return nil }
        wireResistanceOhms = try table.double("wire_ohms", in: 0...1e4, unit: "Ω (per cell segment)")
        scale = try table.double("scale", default: 1, in: 0...100)
        try table.finish()
    }

    /// c(a) = a/2 − a²/5 + a³/20 (aihwkit's constants 0.5, 0.2, 0.05).
    @inline(__always)
    static func loss<L: DeviceLanes>(load a: L) -> L {
        a * (a * (L(0.05) * a - L(0.2)) + L(0.5))
    }
}

/// IR drop on the crossbar products of a chip (effective-weight and tile mode), with its scratch.
package final class IRDropProduct {
    let irDrop: IRDrop
    /// Rows per array: the product's inner dimension is read in blocks of this many.
    let arrayRows: Int
    /// `n · r · g_max` per row of a block is `loadPerRow · n`.
    private let loadPerRow: Float
    /// Product rows handled at a time (bounds the scratch).
    private static let rowBlock = 256
    private let magnitudes: DeviceBuffer<Float>
    private let positioned: DeviceBuffer<Float>
    private let weightMagnitudes: DeviceBuffer<Float>
    private let loads: DeviceBuffer<Float>
    private let positionedSums: DeviceBuffer<Float>
    private let inputMaxima: DeviceBuffer<Float>

    /// For products with at most `largestOutputs` outputs.
    package init(_ irDrop: IRDrop, device: DeviceModel, arrayRows: Int, largestOutputs: Int) {
        self.irDrop = irDrop
        self.arrayRows = arrayRows
        loadPerRow = Float(irDrop.wireResistanceOhms * device.maximumConductance)
        magnitudes = DeviceBuffer(count: Self.rowBlock * arrayRows)
        positioned = DeviceBuffer(count: Self.rowBlock * arrayRows)
        weightMagnitudes = DeviceBuffer(count: largestOutputs * arrayRows)
        loads = DeviceBuffer(count: Self.rowBlock * largestOutputs)
        positionedSums = DeviceBuffer(count: Self.rowBlock * largestOutputs)
        inputMaxima = DeviceBuffer(count: Self.rowBlock)
    }

    /// Subtracts `alpha · Δy` (see `IRDrop`) from `output` (`[rows × outputs]`, row stride `ldc`)
    /// for the product of `input` (`[rows × inner]`, row stride `lda`) with `weights`
    /// (`[outputs × inner]`, row stride `ldb`), whose column `i` has quantisation scale `scales[i]`.
    package func apply(
        input: UnsafePointer<Float>, rows: Int, inner: Int, lda: Int, weights: UnsafePointer<Float>, ldb: Int,
        scales: UnsafePointer<Float>, outputs: Int, output: UnsafeMutablePointer<Float>, ldc: Int, alpha: Float = 1
    ) {
        let scale = Float(irDrop.scale) * alpha
        for arrayStart in stride(from: 0, to: inner, by: arrayRows) {
            let n = min(arrayRows, inner - arrayStart)
            for column in 0..<outputs {
                for row in 0..<n { weightMagnitudes[column * n + row] = abs(weights[column * ldb + arrayStart + row]) }
            }
            for blockStart in stride(from: 0, to: rows, by: Self.rowBlock) {
                let block = min(Self.rowBlock, rows - blockStart)
                for row in 0..<block {
                    let source = input + (blockStart + row) * lda + arrayStart
                    var largest: Float = 0
                    for j in 0..<n {
                        let x = source[j]
                        let fromFar = 1 - Float(j) / Float(n)
                        magnitudes[row * n + j] = abs(x)
                        positioned[row * n + j] = x * (1 - fromFar * fromFar)
                        largest = max(largest, abs(x))
                    }
                    inputMaxima[row] = largest
                }
                BLAS.gemm(
                    transposeB: true, m: block, n: outputs, k: n, a: magnitudes.base, lda: n,
                    b: weightMagnitudes.base, ldb: n, c: loads.base, ldc: outputs)
                BLAS.gemm(
                    transposeB: true, m: block, n: outputs, k: n, a: positioned.base, lda: n,
                    b: weights + arrayStart, ldb: ldb, c: positionedSums.base, ldc: outputs)
                for row in 0..<block where inputMaxima[row] > 0 {
                    let perInput = loadPerRow * Float(n) / inputMaxima[row]
                    let target = output + (blockStart + row) * ldc
                    for column in 0..<outputs where scales[column] > 0 {
                        let load = perInput * loads[row * outputs + column] / scales[column]
                        target[column] -= scale * IRDrop.loss(load: load) * positionedSums[row * outputs + column]
                    }
                }
            }
        }
    }
}
