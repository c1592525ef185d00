import CimCarlo
import Testing

@testable import CimCarloSupport

@Suite struct TOMLTests {
    @Test func parsesTheSubsetRunSpecsUse() throws {
        let table = try TOMLParser.parse(
            """
            # comment
            name = "a \\"quoted\\" \\u00b5S" # trailing comment
            literal = 'C:\\path'
            count = 1_000
            negative = -3
            ratio = 2.5e-3
            flag = true
            times = [1, 2.5,
                     3, ]  # multi-line
            inline = { a = 1, b = "x" }

            [mapping]
            weight_bits = 8
            [mapping.sub]
            deep = false
            """)
        #expect(table["name"] == .string("a \"quoted\" µS"))
        #expect(table["literal"] == .string("C:\\path"))
        #expect(table["count"] == .integer(1000))
        #expect(table["negative"] == .integer(-3))
        #expect(table["ratio"] == .float(2.5e-3))
        #expect(table["flag"] == .boolean(true))
        #expect(table["times"] == .array([.integer(1), .float(2.5), .integer(3)]))
        guard case let .table(inline) = table["inline"], case let .table(mapping) = table["mapping"],
            case let .table(sub) = mapping["sub"]
        else {
            Issue.record("tables missing")
            return
        }
        #expect(inline["b"] == .string("x"))
        #expect(mapping["weight_bits"] == .integer(8))
        #expect(sub["deep"] == .boolean(false))
        #expect(table.line(of: "flag") == 7)
    }

    @Test(arguments: [
        ("a = 1\na = 2", "line 2: key `a` is defined twice"),
        ("[t]\nx = 1\n[t]", "line 3: table [t] is defined twice"),
        ("a = \"open", "line 1: unterminated string"),
        ("a = [1, 2", "line 1: expected `,` or `]` in array"),
        ("a = b", "line 1: `b` is not a number (a string needs quotes)"),
        ("a = 1 2", "line 1: expected the end of the line, found `2`"),
        ("[[x]]", "line 1: arrays of tables (`[[...]]`) are not supported"),
        ("d = 2024-01-01", "line 1: dates and times are not supported (`2024-01-01`)"),
        ("= 3", "line 1: expected a key, found `=`"),
    ])
    func reportsSyntaxErrorsWithTheirLine(text: String, message: String) {
        #expect {
            try TOMLParser.parse(text)
        } throws: { error in
            "\(error)" == message
        }
    }

    @Test func readerNamesFileKeyAndAllowedRange() throws {
        let reader = try ConfigurationReader(file: "spec.toml", text: "[d2d]\nsigma = -0.1\nsgima = 1")
        let d2d = try #require(try reader.table("d2d"))
        #expect {
            _ = try d2d.double("sigma", in: 0...10)
        } throws: { error in
            "\(error)" == "spec.toml: key `d2d.sigma`: must be from 0 to 10, got -0.1"
        }
        #expect {
            try d2d.finish()
        } throws: { error in
            "\(error)" == "spec.toml: key `d2d.sgima`: unknown key (allowed here: sigma)"
        }
    }
}
