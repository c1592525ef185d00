import CimCarlo
import Testing

@Suite struct TrainerTests {
    @Test(.enabled(if: fashionMNISTInstalled))
    func shortMLPTrainingClearlyBeatsChance() throws {
        BLAS.setThreadCount(2)
        let source = DatasetSource(argument: "fashion-mnist")
        let training = try source.load(.train)
        let test = try source.load(.test).prefix(1000)
        var generator = SplitMix64(seed: 7)
        var network = ReferenceArchitecture.mlp.makeNetwork(using: &generator)
        var reports: [EpochReport] = []
        try Trainer.train(
            &network, on: training, test: test,
            configuration: TrainingConfiguration(epochs: 2, batchSize: 64, seed: 7, trainingLimit: 3000)
        ) {
            reports.append($0)
        }
        #expect(reports.count == 2)
        #expect(reports[1].trainLoss < reports[0].trainLoss)
        // Chance is 10 %; a few thousand images of training reach well above 60 %.
        let accuracy = try #require(reports.last?.test?.accuracy)
        #expect(accuracy > 0.6)
    }

    @Test func trainingIsReproducibleForASeed() throws {
        let base = makeTinyNetwork(seed: 21)
        let images = makeRandomImages(for: base, count: 40, seed: 22)
        func trained() throws -> Network {
            var network = base
            try Trainer.train(
                &network, on: images, test: nil,
                configuration: TrainingConfiguration(epochs: 2, batchSize: 8, seed: 3))
            return network
        }
        let first = try trained()
        #expect(try trained() == first)
        #expect(first != base)
    }
}
