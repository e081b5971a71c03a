// compose-go's own tables, translated: every case whose outcome decides what compose would pull
// (the value an `image:` or a .env variable ends up with, or compose refusing the file).
// From github.com/compose-spec/compose-go at e70e961c3a3acebf0800b882f1afb3dbf1fb74a2 (2026-07-21):
// template/template_test.go, interpolation/interpolation_test.go, dotenv/godotenv_test.go,
// dotenv/godotenv_var_expansion_test.go, dotenv/parser_test.go and dotenv/fixtures/*.env
// (Apache-2.0). Cases about logging hooks, custom substitution/replacement functions, custom
// .env formats, file errors and memory use decide nothing pulled and are left out.
import { describe, expect, it } from "vitest";
import { DotEnvError, parseDotEnv } from "../../src/resolve/dotenv.js";
import { substitute, TemplateError } from "../../src/resolve/interpolate.js";

const from = (values: Record<string, string>) => (name: string) => (Object.hasOwn(values, name) ? values[name] : undefined);

describe("compose-go template/template_test.go", () => {
  const defaults = from({ FOO: "first", BAR: "", JSON: '{"json":2}' });
  const ok = (template: string) => substitute(template, defaults).value;

  it.each([
    ["$${foo}", "${foo}"], // TestEscaped
    ["foo", "foo"], // TestSubstituteNoMatch
    ["a $ string", "a $ string"], // TestUnescaped
    ["^REGEX$", "^REGEX$"],
    ["$}", "$}"],
    ["$", "$"],
    ["$FOO-bar", "first-bar"], // TestNonBraced
    ["This ${missing} var", "This  var"], // TestNoValueNoDefault
    ["This ${BAR} var", "This  var"],
    ["This $FOO var", "This first var"], // TestValueNoDefault
    ["This ${FOO} var", "This first var"],
    ["ok ${missing:-def}", "ok def"], // TestNoValueWithDefault
    ["ok ${missing-def}", "ok def"],
    ["${A:+${A},}B", "B"], // TestLazyDefaultDoesNotWarn
    ["${A:-${B}}", ""], // TestLazyDefaultWarnsWhenUsed
    ["ok ${BAR:-def}", "ok def"], // TestEmptyValueWithSoftDefault
    ["ok ${FOO:-def}", "ok first"], // TestValueWithSoftDefault
    ["ok ${BAR-def}", "ok "], // TestEmptyValueWithHardDefault
    ["ok ${UNSET_VAR:+presence_value}", "ok "], // TestPresentValueWithUnset
    ["ok ${UNSET_VAR+presence_value}", "ok "], // TestPresentValueWithUnset2
    ["ok ${FOO:+presence_value}", "ok presence_value"], // TestPresentValueWithNonEmpty
    ["ok ${FOO+presence_value}", "ok presence_value"], // TestPresentValueAndNonEmptyWithNonEmpty
    ["ok ${BAR+presence_value}", "ok presence_value"], // TestPresentValueWithSet
    ["ok ${BAR:+presence_value}", "ok "], // TestPresentValueAndNotEmptyWithSet
    ["ok ${BAR:-/non:-alphanumeric}", "ok /non:-alphanumeric"], // TestNonAlphanumericDefault
    // TestInterpolationExternalInterference
    ["-ok ${BAR:-defaultValue}", "-ok defaultValue"],
    ["+ok ${UNSET:-${BAR-defaultValue}}", "+ok "],
    ["-ok ${FOO:-defaultValue}", "-ok first"],
    [":-ok ${UNSET-defaultValue}", ":-ok defaultValue"],
    [":-ok ${BAR-defaultValue}", ":-ok "],
    [":?ok ${BAR-defaultValue}", ":?ok "],
    [":?ok ${BAR:-defaultValue}", ":?ok defaultValue"],
    [":+ok ${BAR:-defaultValue}", ":+ok defaultValue"],
    ["+ok ${BAR-defaultValue}", "+ok "],
    ["?ok ${BAR:-defaultValue}", "?ok defaultValue"],
    // TestDefaultsWithNestedExpansion
    ["ok ${UNSET_VAR-$FOO}", "ok first"],
    ["ok ${UNSET_VAR-${FOO}}", "ok first"],
    ["ok ${UNSET_VAR-${FOO} ${FOO}}", "ok first first"],
    ["ok ${BAR:-$FOO}", "ok first"],
    ["ok ${BAR:-${FOO}}", "ok first"],
    ["ok ${BAR:-${FOO} ${FOO}}", "ok first first"],
    ["ok ${BAR+$FOO}", "ok first"],
    ["ok ${BAR+$FOO ${FOO:+second}}", "ok first second"],
    // TestDefaultsForMandatoryVariables
    ["ok ${FOO:?err}", "ok first"],
    ["ok ${FOO?err}", "ok first"],
    ["ok ${BAR?err}", "ok "],
    // TestPrecedence
    ["${UNSET_VAR-myerror?msg}", "myerror?msg"],
    ["${FOO?bar-baz}", "first"],
    ["${BAR:-default_value_for_empty_var}", "default_value_for_empty_var"],
    ["${UNSET_VAR-default_value_for_unset_var}", "default_value_for_unset_var"],
    // TestSubstituteWithReplacementFunc's last case (the default replacement)
    ["ok ${SUBDOMAIN:-redis}.${FOO:?}", "ok redis.first"],
    // TestNoValueWithCurlyBracesDefault / TestValueWithCurlyBracesDefault
    ['ok ${missing:-{"json":1}}', 'ok {"json":1}'],
    ['ok ${missing-{"json":1}}', 'ok {"json":1}'],
    ['ok ${JSON:-{"json":1}}', 'ok {"json":2}'],
    ['ok ${JSON-{"json":1}}', 'ok {"json":2}'],
  ])("%s → %j", (template, expected) => {
    expect(ok(template)).toBe(expected);
  });

  it.each(["${", "${}", "${ }", "${ foo}", "${foo }", "${foo!}"])("TestInvalid: %s is refused", (template) => {
    expect(() => substitute(template, defaults)).toThrow(/invalid interpolation format/);
  });

  it.each([
    // TestMandatoryVariableErrors, …WithNestedExpansion, TestPrecedence's error case
    ["not ok ${UNSET_VAR:?Mandatory Variable Unset}", "required variable UNSET_VAR is missing a value: Mandatory Variable Unset"],
    ["not ok ${BAR:?Mandatory Variable Empty}", "required variable BAR is missing a value: Mandatory Variable Empty"],
    ["not ok ${UNSET_VAR:?}", "required variable UNSET_VAR is missing a value"],
    ["not ok ${UNSET_VAR?Mandatory Variable Unset}", "required variable UNSET_VAR is missing a value: Mandatory Variable Unset"],
    ["not ok ${UNSET_VAR?}", "required variable UNSET_VAR is missing a value"],
    ["not ok ${UNSET_VAR:?Mandatory Variable ${FOO}}", "required variable UNSET_VAR is missing a value: Mandatory Variable first"],
    ["not ok ${UNSET_VAR?Mandatory Variable ${FOO}}", "required variable UNSET_VAR is missing a value: Mandatory Variable first"],
    ["${UNSET_VAR?bar-baz}", "required variable UNSET_VAR is missing a value: bar-baz"],
  ])("%s is refused: %s", (template, message) => {
    expect(() => substitute(template, defaults)).toThrow(new TemplateError(message));
  });

  it("TestLazyRequiredMessageDoesNotWarn: ${A?${B}} with A set is A, B never read", () => {
    expect(substitute("${A?${B}}", from({ A: "value" }))).toEqual({ value: "value", unset: [] });
  });

  it("the names read without a value are reported (compose's 'variable is not set' warning), a default taken is not", () => {
    expect(substitute("${A:-${B}}", defaults).unset).toEqual(["B"]);
    expect(substitute("${A:+${A},}B", defaults).unset).toEqual([]);
  });
});

describe("compose-go interpolation/interpolation_test.go", () => {
  const defaults = from({ USER: "jenny", FOO: "bar", count: "5", REQUIRED: "true" });
  it("TestInterpolate: image example:${USER}", () => {
    expect(substitute("example:${USER}", defaults).value).toBe("example:jenny");
  });
  it("TestInvalidInterpolation: image ${ is refused", () => {
    expect(() => substitute("${", defaults)).toThrow(/invalid interpolation format/);
  });

  // TestValidUnexistentInterpolation, with FOO and BAR unset
  it.each([
    ["{{{ ${FOO:-foo_} }}}", "{{{ foo_ }}}"],
    ["{{{ ${FOO:-foo-bar-value} }}}", "{{{ foo-bar-value }}}"],
    ["{{{ ${FOO:-foo?bar?value} }}}", "{{{ foo?bar?value }}}"],
    ["{{{ ${FOO:-foo:?bar:?value} }}}", "{{{ foo:?bar:?value }}}"],
    ["{{{ ${FOO:-foo} ${BAR:-DEFAULT_VALUE} }}}", "{{{ foo DEFAULT_VALUE }}}"],
    ["{{{ ${BAR} }}}", "{{{  }}}"],
    ["${FOO:-baz} }}}", "baz }}}"],
    ["${FOO-baz} }}}", "baz }}}"],
    ["${FOO:-${BAR:-${ZOT:-qix}}}", "qix"],
    ["${FOO:-${BAR:-x}_test_${BAR:-y}}", "x_test_y"],
    ["${FOO:-${BAR:-x}_test}", "x_test"],
    ["${FOO:-${BAR:-${ZOT:-x}}_test}", "x_test"],
  ])("%s → %j", (template, expected) => {
    expect(substitute(template, from({})).value).toBe(expected);
  });

  it.each([
    ["{{{ ${FOO:?foo_} }}}", "foo_"],
    ["{{{ ${FOO:?foo-bar-value} }}}", "foo-bar-value"],
    ["{{{ ${FOO:?foo} ${BAR:-DEFAULT_VALUE} }}}", "foo"],
    ["${FOO:?foo} ${BAR:?bar}", "foo"],
    ["${FOO:?baz} }}}", "baz"],
    ["${FOO?baz} }}}", "baz"],
  ])("%s is refused: required variable FOO is missing a value: %s", (template, message) => {
    expect(() => substitute(template, from({}))).toThrow(`required variable FOO is missing a value: ${message}`);
  });
});

/** compose-go's fixtures, byte for byte (dotenv/fixtures/*.env). */
const FIXTURES = {
  plain:
    "OPTION_A=1\nOPTION_B=2\nOPTION_C= 3\nOPTION_D =4\nOPTION_E = 5\n456 = ABC\nOPTION_F = \nOPTION_G=\nOPTION_H = my string # Inline comment\n",
  exported: "export OPTION_A=2\nexport OPTION_B='\\n'\n",
  equals: "export OPTION_A='postgres://localhost:5432/database?sslmode=disable'\n\n",
  quoted:
    "OPTION_A='1'\nOPTION_B='2'\nOPTION_C=''\nOPTION_D='\\n'\nOPTION_E=\"1\"\nOPTION_F=\"2\"\nOPTION_G=\"\"\nOPTION_H=\"\\n\"\n" +
    "OPTION_I = \"echo 'asd'\" # Inline comment\nOPTION_J = 'first line\nsecond line\nthird line\nand so on'\nOPTION_K='Let\\'s go!'\nOPTION_Z = \"last value\"\n",
  unquoted:
    'OPTION_A = "some quoted phrase"\nOPTION_B=first one with an unquoted phrase\nOPTION_C = then another one with an unquoted phrase\n' +
    'OPTION_D = then another one with an unquoted phrase special è char\nOPTION_E = "then another one quoted phrase"\n',
  substitutions: "OPTION_A=1\nOPTION_B=${OPTION_A}\nOPTION_C=$OPTION_B\nOPTION_D=${OPTION_A}_${OPTION_B}\nOPTION_E=${OPTION_NOT_DEFINED}\n",
  substitutionsDefault:
    "OPTION_A=${OPTION_A:-1}\nOPTION_B=${OPTION_A}\nOPTION_C=$OPTION_B\nOPTION_D=${OPTION_A}_${OPTION_B}\nOPTION_E=${OPTION_NOT_DEFINED}\n",
  special: "VAR.WITH.DOTS=dots\nVAR_WITH_UNDERSCORES=underscores\nVAR-WITH-DASHES=dashes\n",
  invalid1: '# some comments\nfoo="\n  a\n  multine\n  value\n"\nINVALID LINE\nzot=qix',
  inheritedMulti: "foo=bar\nVAR_TO_BE_LOADED_FROM_OS_ENV\nbar=baz\n",
  inheritedNotFound: "VARIABLE_NOT_FOUND\n",
};

describe("compose-go dotenv/godotenv_test.go and its fixtures", () => {
  const parse = (text: string, env: Record<string, string> = {}) => Object.fromEntries(parseDotEnv(text, from(env)));

  it("TestReadPlainEnv (456 kept as compose's GetEnvFromFile keeps it; no $456 can name it)", () => {
    expect(parse(FIXTURES.plain)).toEqual({
      OPTION_A: "1",
      OPTION_B: "2",
      OPTION_C: "3",
      OPTION_D: "4",
      OPTION_E: "5",
      "456": "ABC",
      OPTION_F: "",
      OPTION_G: "",
      OPTION_H: "my string",
    });
  });
  it("TestUTF8BOM", () => expect(parse(`\uFEFF${FIXTURES.plain}`).OPTION_A).toBe("1"));
  it("TestParse", () => expect(parse("ONE=1\nTWO='2'\nTHREE = \"3\"")).toEqual({ ONE: "1", TWO: "2", THREE: "3" }));
  it("TestLoadExportedEnv", () => expect(parse(FIXTURES.exported)).toEqual({ OPTION_A: "2", OPTION_B: "\\n" }));
  it("TestLoadEqualsEnv", () => expect(parse(FIXTURES.equals)).toEqual({ OPTION_A: "postgres://localhost:5432/database?sslmode=disable" }));
  it("TestLoadQuotedEnv", () => {
    expect(parse(FIXTURES.quoted)).toEqual({
      OPTION_A: "1",
      OPTION_B: "2",
      OPTION_C: "",
      OPTION_D: "\\n",
      OPTION_E: "1",
      OPTION_F: "2",
      OPTION_G: "",
      OPTION_H: "\n",
      OPTION_I: "echo 'asd'",
      OPTION_J: "first line\nsecond line\nthird line\nand so on",
      OPTION_K: "Let's go!",
      OPTION_Z: "last value",
    });
  });
  it("TestLoadUnquotedEnv", () => {
    expect(parse(FIXTURES.unquoted)).toEqual({
      OPTION_A: "some quoted phrase",
      OPTION_B: "first one with an unquoted phrase",
      OPTION_C: "then another one with an unquoted phrase",
      OPTION_D: "then another one with an unquoted phrase special è char",
      OPTION_E: "then another one quoted phrase",
    });
  });
  it("TestSubstitutions", () => {
    expect(parse(FIXTURES.substitutions)).toEqual({ OPTION_A: "1", OPTION_B: "1", OPTION_C: "1", OPTION_D: "1_1", OPTION_E: "" });
  });
  it("TestSubstitutionsWithEnvFilePrecedence: the environment wins in expansions, not over the line itself", () => {
    expect(parse(FIXTURES.substitutions, { OPTION_A: "5" })).toEqual({
      OPTION_A: "1",
      OPTION_B: "5",
      OPTION_C: "5",
      OPTION_D: "5_5",
      OPTION_E: "",
    });
  });
  it("TestSubstitutionsWithEnvFileDefaultValuePrecedence", () => {
    expect(parse(FIXTURES.substitutionsDefault, { OPTION_A: "5" })).toEqual({
      OPTION_A: "5",
      OPTION_B: "5",
      OPTION_C: "5",
      OPTION_D: "5_5",
      OPTION_E: "",
    });
  });
  it("TestSubstitutionsWithUnsetVarEnvFileDefaultValuePrecedence", () => {
    expect(parse(FIXTURES.substitutionsDefault)).toEqual({ OPTION_A: "1", OPTION_B: "1", OPTION_C: "1", OPTION_D: "1_1", OPTION_E: "" });
  });
  it("TestDash", () =>
    expect(parse(FIXTURES.special)).toEqual({ "VAR.WITH.DOTS": "dots", VAR_WITH_UNDERSCORES: "underscores", "VAR-WITH-DASHES": "dashes" }));
  it("TestErrorParsing", () => expect(() => parse(FIXTURES.invalid1)).toThrow("line 7: key cannot contain a space"));
  it("TestInheritedEnvVariableSameSize / SingleVar / NotFound", () => {
    const env = { VAR_TO_BE_LOADED_FROM_OS_ENV: "SOME_RANDOM_VALUE" };
    expect(parse(FIXTURES.inheritedMulti, env)).toEqual({ foo: "bar", VAR_TO_BE_LOADED_FROM_OS_ENV: "SOME_RANDOM_VALUE", bar: "baz" });
    expect(parse("VAR_TO_BE_LOADED_FROM_OS_ENV\n", env)).toEqual(env);
    expect(parse(FIXTURES.inheritedNotFound)).toEqual({});
  });
  it("TestExpandingEnvironmentWithLookup", () => expect(parse("TEST=$ME", { ME: "YES" })).toEqual({ TEST: "YES" }));

  it.each([
    ["FOO=test\nBAR=$FOO", { FOO: "test", BAR: "test" }], // TestExpanding
    ["FOO=test\nBAR=${FOO}bar", { FOO: "test", BAR: "testbar" }],
    ["BAR=$FOO", { BAR: "" }],
    ['FOO=test\nBAR="quote $FOO"', { FOO: "test", BAR: "quote test" }],
    ["BAR='quote $FOO'", { BAR: "quote $FOO" }],
    ['FOO="foo\\$BAR"', { FOO: "foo$BAR" }],
    ['FOO="foo\\${BAR}"', { FOO: "foo${BAR}" }],
    ['FOO=test\nBAR="foo\\${FOO} ${FOO}"', { FOO: "test", BAR: "foo${FOO} test" }],
    // TestVariableStringValueSeparator
    [
      'TEST_URLS="stratum+tcp://stratum.antpool.com:3333\nstratum+tcp://stratum.antpool.com:443"',
      { TEST_URLS: "stratum+tcp://stratum.antpool.com:3333\nstratum+tcp://stratum.antpool.com:443" },
    ],
    // dotenv/parser_test.go TestParseBytes
    [
      "\na=b\na[1]=c\na.propertyKey=d\nárvíztűrő-TÜKÖRFÚRÓGÉP=ÁRVÍZTŰRŐ-tükörfúrógép\n",
      { a: "b", "a[1]": "c", "a.propertyKey": "d", "árvíztűrő-TÜKÖRFÚRÓGÉP": "ÁRVÍZTŰRŐ-tükörfúrógép" },
    ],
  ])("%j", (text, expected) => {
    expect(parse(text)).toEqual(expected);
  });

  // TestParsing: one line, one key, one value
  it.each([
    ["FOO=bar", "FOO", "bar"],
    ["FOO =bar", "FOO", "bar"],
    ["FOO= bar", "FOO", "bar"],
    ['FOO="bar"', "FOO", "bar"],
    ["FOO='bar'", "FOO", "bar"],
    ['FOO="escaped\\"bar"', "FOO", 'escaped"bar'],
    ['FOO="\\"quoted\\""', "FOO", '"quoted"'],
    ["FOO=\"'d'\"", "FOO", "'d'"],
    ["OPTION_A: 1", "OPTION_A", "1"],
    ["OPTION_A: Foo=bar", "OPTION_A", "Foo=bar"],
    ["OPTION_A=1:B", "OPTION_A", "1:B"],
    ["export OPTION_A=2", "OPTION_A", "2"],
    ["export OPTION_B='\\n'", "OPTION_B", "\\n"],
    ["export exportFoo=2", "exportFoo", "2"],
    ["exportFOO=2", "exportFOO", "2"],
    ["export_FOO =2", "export_FOO", "2"],
    ["export.FOO= 2", "export.FOO", "2"],
    ["export\tOPTION_A=2", "OPTION_A", "2"],
    ["  export OPTION_A=2", "OPTION_A", "2"],
    ["\texport OPTION_A=2", "OPTION_A", "2"],
    ['export OPTION_A="export A"', "OPTION_A", "export A"],
    ['FOO="bar\\nbaz"', "FOO", "bar\nbaz"],
    ["FOO=a\\tb", "FOO", "a\\tb"],
    ['FOO="a\\tb"', "FOO", "a\tb"],
    ['KEY="Z\\aZ\\bZ\\fZ\\nZ\\rZ\\tZ\\vZ\\\\Z\\0123Z"', "KEY", "Z\x07Z\bZ\fZ\nZ\rZ\tZ\vZ\\ZSZ"],
    ["FOO.BAR=foobar", "FOO.BAR", "foobar"],
    ["FOO=foobar=", "FOO", "foobar="],
    ["FOO=bar ", "FOO", "bar"],
    ["FOO=bar # this is foo", "FOO", "bar"],
    ["FOO=bar #this is foo", "FOO", "bar"],
    ["FOO=bar #", "FOO", "bar"],
    ["FOO=123#not-an-inline-comment", "FOO", "123#not-an-inline-comment"],
    ['FOO="bar#baz"', "FOO", "bar#baz"],
    ['FOO="bar#baz"#', "FOO", "bar#baz"],
    ['FOO="bar#baz" # comment', "FOO", "bar#baz"],
    ["FOO='bar#baz' # comment", "FOO", "bar#baz"],
    ['FOO="bar#baz#bang" # comment', "FOO", "bar#baz#bang"],
    ['FOO="ba#r"', "FOO", "ba#r"],
    ["FOO='ba#r'", "FOO", "ba#r"],
    ['FOO="bar\\n\\ b\\az"', "FOO", "bar\n\\ b\x07z"],
    ['FOO="bar\\\\\\n\\ b\\az"', "FOO", "bar\\\n\\ b\x07z"],
    ['FOO="bar\\\\r\\ b\\az"', "FOO", "bar\\r\\ b\x07z"],
    ['FOO="bar\\nbaz\\\\"', "FOO", "bar\nbaz\\"],
    ['="value"', "", "value"],
    [" KEY =value", "KEY", "value"],
    ["   KEY=value", "KEY", "value"],
    ["\tKEY=value", "KEY", "value"],
    ['KEY="\\0123"', "KEY", "S"],
    ['KEY="\\x07"', "KEY", "\\x07"],
    ['KEY="\\u12e4"', "KEY", "\\u12e4"],
    ['KEY="\\U00101234"', "KEY", "\\U00101234"],
  ])("TestParsing %s → %s=%j", (line, key, value) => {
    expect(parseDotEnv(line).get(key)).toBe(value);
  });

  it("TestParsing: lol$wut is refused; TestParseVariable", () => {
    expect(() => parseDotEnv("lol$wut")).toThrow(DotEnvError);
    expect(() => parseDotEnv("%!(EXTRA string)=foo")).toThrow('line 1: unexpected character "%" in variable name "%!(EXTRA string)=foo"');
  });

  it.each(['KEY="', 'KEY="value', 'KEY="value\\"', "KEY=\"value'", "KEY='", "KEY='value", "KEY='value\\'", "KEY='value\""])(
    "TestUnterminatedQuotes: %s",
    (text) => {
      expect(() => parseDotEnv(text)).toThrow("unterminated quoted value");
    },
  );

  it.each(["\n", "\r\n", "\t\t ", "# Comment", "\t # comment"])("TestLinesToIgnore: %j defines nothing", (text) => {
    expect(parseDotEnv(text).size).toBe(0);
  });

  it("TestMultipleFiles (one file): a later line expands an earlier one, unless the environment has it", () => {
    const base = 'ENV_HOSTNAME=localhost\nENV_MY_URL="http://${ENV_HOSTNAME}"\n';
    expect(parse(base)).toEqual({ ENV_HOSTNAME: "localhost", ENV_MY_URL: "http://localhost" });
    expect(parse(base, { ENV_HOSTNAME: "host.local" })).toEqual({ ENV_HOSTNAME: "localhost", ENV_MY_URL: "http://host.local" });
  });
});

describe("compose-go dotenv/godotenv_var_expansion_test.go", () => {
  const lookup = from({ EMPTY_VAR: "", TEST_VAR: "Test Value" });
  it.each([
    ["RESULT=${UNSET_VAR:-Default Value}", "Default Value"],
    ["RESULT=${EMPTY_VAR:-Default Value}", "Default Value"],
    ["RESULT=${TEST_VAR:-Default Value}", "Test Value"],
    ["RESULT=${UNSET_VAR-Default Value}", "Default Value"],
    ["RESULT=${EMPTY_VAR-Default Value}", ""],
    ["RESULT=${TEST_VAR-Default Value}", "Test Value"],
    ["RESULT=${TEST_VAR:?Default Value}", "Test Value"],
    ["RESULT=${EMPTY_VAR?Test error}", ""],
    ["RESULT=${TEST_VAR?Default Value}", "Test Value"],
  ])("%s", (line, expected) => {
    expect(parseDotEnv(line, lookup).get("RESULT")).toBe(expected);
  });
  it.each([
    ["RESULT=${UNSET_VAR:?Test error}", "UNSET_VAR"],
    ["RESULT=${EMPTY_VAR:?Test error}", "EMPTY_VAR"],
    ["RESULT=${UNSET_VAR?Test error}", "UNSET_VAR"],
  ])("%s is refused", (line, name) => {
    expect(() => parseDotEnv(line, lookup)).toThrow(`required variable ${name} is missing a value: Test error`);
  });
});
