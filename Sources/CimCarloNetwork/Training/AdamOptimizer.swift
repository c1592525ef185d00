import Foundation

/// Adam (Kingma & Ba, "Adam: A method for stochastic optimization", ICLR 2015) with the
/// usual β₁ = 0.9, β₂ = 0.999, ε = 1e-8 and bias correction.
struct AdamOptimizer {
    private var firstMoment: ParameterGradients
    private var secondMoment: ParameterGradients
    private var steps = 0
    private let beta1: Float = 0.9
    private let beta2: Float = 0.999
    private let epsilon: Float = 1e-8

    init(network: Network) {
        firstMoment = ParameterGradients(zeroFor: network)
        secondMoment = ParameterGradients(zeroFor: network)
    }

    mutating func step(_ network: inout Network, gradients: ParameterGradients, learningRate: Float) {
        steps += 1
        let correction1 = 1 - pow(beta1, Float(steps))
        let correction2 = 1 - pow(beta2, Float(steps))
        let stepSize = learningRate * correction2.squareRoot() / correction1
        for index in network.weightNodeIndices {
            network.modifyParameters(ofNode: index) { weight, bias in
                update(
                    &weight, gradient: gradients.weight[index],
                    first: &firstMoment.weight[index], second: &secondMoment.weight[index], stepSize: stepSize)
                update(
                    &bias, gradient: gradients.bias[index],
                    first: &firstMoment.bias[index], second: &secondMoment.bias[index], stepSize: stepSize)
            }
        }
    }

    private func update(
        _ parameters: inout [Float], gradient: [Float], first: inout [Float], second: inout [Float],
        stepSize: Float
    ) {
        parameters.withUnsafeMutableBufferPointer { parameters in
            gradient.withUnsafeBufferPointer { gradient in
                first.withUnsafeMutableBufferPointer { first in
                    second.withUnsafeMutableBufferPointer { second in
                        for index in 0..<parameters.count {
                            let g = gradient[index]
                            first[index] = beta1 * first[index] + (1 - beta1) * g
                            second[index] = beta2 * second[index] + (1 - beta2) * g * g
                            parameters[index] -= stepSize * first[index] / (second[index].squareRoot() + epsilon)
                        }
                    }
                }
            }
        }
    }
}
