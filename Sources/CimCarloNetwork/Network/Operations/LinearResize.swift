/// ONNX Resize in `linear` mode (bilinear on images): every output element is a weighted sum
/// of a fixed number of input elements, with positions and weights computed at load from the
/// coordinate transformation ONNX names. Digital. Nearest-neighbour Resize is a `Rearrange`.
public struct LinearResize: NetworkOperation, Equatable {
    public static let kind = "linear_resize"
    public var input: ActivationShape
    public var output: ActivationShape
    /// Input elements each output element reads.
    public var taps: Int
    /// `output.count × taps` memory offsets into one input sample, per output element in memory order.
    public var sources: [Int32]
    public var weights: [Float]

    public init(input: ActivationShape, output: ActivationShape, taps: Int, sources: [Int32], weights: [Float]) {
        precondition(sources.count == output.count * taps && weights.count == sources.count)
        self.input = input
        self.output = output
        self.taps = taps
        self.sources = sources
        self.weights = weights
    }

    public func outputShape(for inputs: [ActivationShape]) throws(OperationShapeError) -> ActivationShape {
        guard inputs == [input] else { throw OperationShapeError("was made for an input \(input)") }
        return output
    }

    public func forward(_ pass: ForwardPass) {
        for sample in 0..<pass.batchSize {
            let from = pass.input.baseAddress! + sample &* input.count
            let to = pass.output.baseAddress! + sample &* output.count
            for element in 0..<output.count {
                var sum: Float = 0
                for tap in 0..<taps {
                    let index = element &* taps &+ tap
                    sum += weights[index] * from[Int(sources[index])]
                }
                to[element] = sum
            }
        }
    }

    /// Gradient `g_in += w · g`, curvature `S_in += w² · S`, along the taps.
    public func backward(_ pass: BackwardPass) {
        guard let inputGradient = pass.inputGradients[0] else { return }
        for sample in 0..<pass.forward.batchSize {
            let target = inputGradient.baseAddress! + sample &* input.count
            let gradient = pass.outputGradient.baseAddress! + sample &* output.count
            for element in 0..<output.count {
                for tap in 0..<taps {
                    let index = element &* taps &+ tap
                    let weight = pass.mode == .curvature ? weights[index] * weights[index] : weights[index]
                    target[Int(sources[index])] += weight * gradient[element]
                }
            }
        }
    }
}
