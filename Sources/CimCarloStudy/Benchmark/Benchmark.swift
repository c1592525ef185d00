import CimCarloCrossbar
import CimCarloResults
import CimCarloSimulation
import CimCarloSupport
import Foundation

/// The performance measurements of `cimcarlo bench`: this machine's sgemm rate, the engine's
/// Gaussian rate, and Monte-Carlo throughput of realistic studies against their GEMM floor.
public enum Benchmark {
    /// One measured workload; its field names in snake case (`JSONEncoder.KeyEncodingStrategy
    /// .convertToSnakeCase`: `secondsPerInstance` → `seconds_per_instance`) are the JSON contract.
    public struct Measurement: Codable, Sendable {
        public var workload: String
        public var instances: Int
        public var threads: Int
        public var secondsPerInstance: Double
        /// The GEMM time of the instance's forward passes (policies × evaluated times × test set)
        /// at the sgemm rate on `threads` threads — nothing else (BRIEF §8).
        public var floorSecondsPerInstance: Double
        /// floor ÷ measured (1 = at the floor).
        public var fractionOfFloor: Double
        /// sgemm rate on `threads` OpenBLAS threads, the floor's rate.
        public var sgemmGflops: Double
        /// Standard normal draws per second of the engine's sampler, one thread.
        public var gaussianPerSecond: Double
        /// (seconds per instance at 1 thread) ÷ (threads × seconds per instance here).
        public var parallelEfficiency: Double
        public var peakRssBytes: Int
        /// GEMM FLOPs of one instance: every forward pass it runs.
        public var gemmGflopPerInstance: Double
        /// Forward passes over the test set per instance (policies × evaluated time points).
        public var passesPerInstance: Int
        /// Wall time per pass: `secondsPerInstance / passesPerInstance` (sampling included).
        public var secondsPerPass: Double
        /// The part of an instance spent sampling, programming and reading devices (a chip run
        /// on one test image), seconds, and its share of `secondsPerInstance`.
        public var samplingSecondsPerInstance: Double
        public var samplingShare: Double
        /// onnxruntime's clean inference of the same network over the same images on the same
        /// threads, seconds per pass (nil when the network is not ONNX or onnxruntime is absent).
        public var onnxruntimeSecondsPerPass: Double?
        /// `onnxruntimeSecondsPerPass / secondsPerPass`: cimcarlo's pass speed as a fraction of
        /// onnxruntime's (target ≥ 0.9).
        public var onnxruntimeRatio: Double?
    }

    /// The machine's rates the floor is computed from.
    public struct Rates: Sendable {
        /// sgemm GFLOP/s by thread count (1 and the bench's thread count).
        public var sgemmGigaflops: [Int: Double]
        public var gaussiansPerSecond: Double

        /// Measures sgemm at 1 and `threads` threads, and the sampler's Gaussian rate.
        public static func measure(threads: Int) -> Rates {
            var sgemm: [Int: Double] = [:]
            for count in Set([1, threads]) { sgemm[count] = Benchmark.sgemmGigaflops(threads: count) }
            return Rates(sgemmGigaflops: sgemm, gaussiansPerSecond: gaussianRate())
        }
    }

    /// Monte-Carlo of `study` (its policies, times, periphery and test set; `instancesPerThread`
    /// instances per worker) at 1 thread and at `threads`; one measurement per thread count.
    /// `sampling` is the same study on one test image (what a chip costs besides its passes);
    /// `onnxruntime` gives onnxruntime's seconds per pass on a thread count, when known.
    public static func measure(
        _ name: String, study: Study, sampling: Study, instancesPerThread: Int, threads: Int, rates: Rates,
        onnxruntime: (Int) -> Double? = { _ in nil }
    ) throws -> [Measurement] {
        let passes = ChipSimulator.passes(
            policies: study.policies.count, times: study.spec.timesSeconds.count, device: study.device)
        let flops = try gemmFlopsPerPass(study) * Double(passes)
        var single = 0.0
        func secondsPerInstance(_ study: Study, instances: [Int], workers: Int) throws -> Double {
            let collector = ResultCollector(
                instances: instances, policies: study.policies.count, times: study.spec.timesSeconds.count)
            let started = DispatchTime.now().uptimeNanoseconds
            try study.simulate(instances: instances, into: collector, threads: workers)
            return Double(DispatchTime.now().uptimeNanoseconds - started) * 1e-9 / Double(instances.count)
        }
        return try Set([1, threads]).sorted().map { workers in
            let instances = Array(0..<(instancesPerThread * workers))
            let seconds = try secondsPerInstance(study, instances: instances, workers: workers)
            let samplingSeconds = try secondsPerInstance(sampling, instances: instances, workers: workers)
            let secondsPerPass = seconds / Double(passes)
            let onnxruntimeSeconds = onnxruntime(workers)
            if workers == 1 { single = seconds }
            let rate = rates.sgemmGigaflops[workers]!
            let floor = flops / (rate * 1e9)
            return Measurement(
                workload: name, instances: instances.count, threads: workers, secondsPerInstance: seconds,
                floorSecondsPerInstance: floor, fractionOfFloor: floor / seconds, sgemmGflops: rate,
                gaussianPerSecond: rates.gaussiansPerSecond,
                parallelEfficiency: single / (Double(workers) * seconds),
                peakRssBytes: peakResidentBytes(), gemmGflopPerInstance: flops / 1e9, passesPerInstance: passes,
                secondsPerPass: secondsPerPass, samplingSecondsPerInstance: samplingSeconds,
                samplingShare: samplingSeconds / seconds, onnxruntimeSecondsPerPass: onnxruntimeSeconds,
                onnxruntimeRatio: onnxruntimeSeconds.map { $0 / secondsPerPass })
        }
    }

    /// GEMM FLOPs of one forward pass of `study` over its test set: the network's products
    /// (2·M·N·K each), times the products per weight that tile mode runs for each layer
    /// (one per slice, side and input plane).
    public static func gemmFlopsPerPass(_ study: Study) throws -> Double {
        let network = study.network
        let shapes = try network.activationShapes()
        var flops = 0.0
        for layer in study.mapping.layers {
            let operation = network.crossbarOperation(ofNode: layer.nodeIndex)!
            let products =
                study.spec.periphery.fidelity == .tile
                ? TileSimulator.productsPerWeight(
                    layer, configuration: study.mapping.configuration, periphery: study.spec.periphery) : 1
            flops += 2 * Double(operation.multiplyAccumulates(output: shapes[layer.nodeIndex + 1]) * products)
        }
        return flops * Double(study.test.count)
    }

    /// sgemm GFLOP/s on an `n × n` product with `threads` OpenBLAS threads (best of `repeats`).
    public static func sgemmGigaflops(size n: Int = 2048, threads: Int, repeats: Int = 3) -> Double {
        BLAS.setThreadCount(threads)
        var generator = SplitMix64(seed: 1)
        let a = (0..<(n * n)).map { _ in Float(generator.nextOpenUnitInterval()) }
        let b = (0..<(n * n)).map { _ in Float(generator.nextOpenUnitInterval()) }
        var c = [Float](repeating: 0, count: n * n)
        var best = Double.infinity
        for _ in 0..<repeats {
            let started = DispatchTime.now().uptimeNanoseconds
            a.withUnsafeBufferPointer { a in
                b.withUnsafeBufferPointer { b in
                    c.withUnsafeMutableBufferPointer { c in
                        BLAS.gemm(
                            m: n, n: n, k: n, a: a.baseAddress!, lda: n, b: b.baseAddress!, ldb: n,
                            c: c.baseAddress!, ldc: n)
                    }
                }
            }
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - started) * 1e-9)
        }
        return 2 * pow(Double(n), 3) / best * 1e-9
    }

    /// Standard normal draws per second of the engine's sampler (`CounterRandom.fillNormals`),
    /// one thread, best of 3.
    public static func gaussianRate(count: Int = 1 << 24) -> Double {
        let stream = CounterRandom(seed: 1, instance: 0, purpose: .programming)
        let buffer = UnsafeMutableBufferPointer<Float>.allocate(capacity: count)
        defer { buffer.deallocate() }
        var best = Double.infinity
        for round in 0..<3 {
            let started = DispatchTime.now().uptimeNanoseconds
            stream.fillNormals(buffer, firstCounter: round * count)
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - started) * 1e-9)
        }
        precondition(buffer.allSatisfy(\.isFinite))
        return Double(count) / best
    }

    /// Peak resident set size of this process so far, bytes.
    public static func peakResidentBytes() -> Int {
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        return usage.ru_maxrss * 1024
    }
}
