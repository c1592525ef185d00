import CimCarlo
import Foundation
import Testing

@Suite struct IDXFileTests {
    let directory = TemporaryDirectory()

    @Test func parsesGeneratedImagesAndLabels() throws {
        let pixels: [UInt8] = (0..<(3 * 2 * 4)).map { UInt8($0 * 10) }
        try IDXFile(dimensions: [3, 2, 4], bytes: pixels).writeGzip(to: directory.file("images.gz"))
        try IDXFile(dimensions: [3], bytes: [7, 0, 9]).writeGzip(to: directory.file("labels.gz"))
        let images = try LabeledImages.loadIDX(images: directory.file("images.gz"), labels: directory.file("labels.gz"))
        #expect(images.count == 3)
        #expect(images.height == 2 && images.width == 4 && images.channels == 1)
        #expect(images.labels == [7, 0, 9])
        #expect(images.pixels[5] == Float(50) / 255)
        #expect(images.pixels.last == Float(230) / 255)
    }

    @Test func readsUncompressedFiles() throws {
        let file = IDXFile(dimensions: [2, 2], bytes: [1, 2, 3, 4])
        try Data(file.serialized()).write(to: URL(fileURLWithPath: directory.file("plain.idx")))
        #expect(try IDXFile(contentsOf: directory.file("plain.idx")) == file)
    }

    @Test(
        arguments: [
            ([0, 0, 8], "IDX header truncated"),
            ([1, 0, 8, 1, 0, 0, 0, 1, 5], "not an IDX file"),
            ([0, 0, 0x0D, 1, 0, 0, 0, 1, 5], "element type 0xd unsupported"),
            ([0, 0, 8, 2, 0, 0, 0, 2, 0], "IDX header truncated"),
            ([0, 0, 8, 1, 0, 0, 0, 3, 5, 6], "payload is 2 bytes, header [3] says 3"),
            ([0, 0, 8, 1, 0, 0, 0, 1, 5, 6], "payload is 2 bytes, header [1] says 1"),
        ] as [([UInt8], String)])
    func rejectsMalformedBytes(bytes: [UInt8], message: String) {
        #expect {
            try IDXFile(parsing: bytes, path: "x.idx")
        } throws: { error in
            "\(error)".hasPrefix("x.idx: ") && "\(error)".contains(message)
        }
    }

    @Test func rejectsTruncatedGzip() throws {
        let path = directory.file("images.gz")
        let pixels = (0..<5000).map { UInt8(truncatingIfNeeded: $0 &* 7919) }
        try IDXFile(dimensions: [5, 1000], bytes: pixels).writeGzip(to: path)
        let compressed = try Data(contentsOf: URL(fileURLWithPath: path))
        try compressed.prefix(compressed.count / 2).write(to: URL(fileURLWithPath: path))
        #expect(throws: DatasetError.self) { try IDXFile(contentsOf: path) }
    }

    @Test func namesTheMissingFileAndThePackage() {
        #expect {
            try IDXFile(contentsOf: directory.file("absent.gz"))
        } throws: { error in
            "\(error)".contains("absent.gz: no such file") && "\(error)".contains("dataset-fashion-mnist")
        }
    }

    @Test func rejectsImageAndLabelCountMismatch() throws {
        try IDXFile(dimensions: [2, 1, 1], bytes: [1, 2]).writeGzip(to: directory.file("images.gz"))
        try IDXFile(dimensions: [3], bytes: [0, 1, 2]).writeGzip(to: directory.file("labels.gz"))
        #expect(throws: DatasetError.self) {
            try LabeledImages.loadIDX(images: directory.file("images.gz"), labels: directory.file("labels.gz"))
        }
    }

    @Test(.enabled(if: fashionMNISTInstalled)) func readsDebianFashionMNIST() throws {
        let test = try DatasetSource(argument: "fashion-mnist").load(.test)
        #expect(test.count == 10_000)
        #expect(test.height == 28 && test.width == 28 && test.channels == 1)
        // Fashion-MNIST's test split is balanced: 1000 images per class.
        for label in 0..<10 {
            #expect(test.labels.filter { $0 == label }.count == 1000)
        }
    }
}
