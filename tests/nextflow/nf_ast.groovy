/*
 * Parse Nextflow scripts and configs with the real Groovy 4 parser and print,
 * as JSON, what the pipeline tests check: syntax errors, processes with their
 * directives, inputs and emits, workflows with take/emit, includes, calls of
 * processes/workflows with their argument counts, `.out.<emit>` uses, the
 * channel operators that gather items, the workflow's dataflow (which variable
 * is built from which), every config setting with its scope, and the
 * constructs that Nextflow's strict syntax (the v2 parser) rejects.
 * Usage: java -cp groovy-4.x.jar groovy.ui.GroovyMain nf_ast.groovy FILE...
 */
import groovy.json.JsonOutput
import org.codehaus.groovy.ast.ClassCodeVisitorSupport
import org.codehaus.groovy.ast.CodeVisitorSupport
import org.codehaus.groovy.ast.expr.*
import org.codehaus.groovy.ast.stmt.*
import org.codehaus.groovy.control.CompilationUnit
import org.codehaus.groovy.control.Phases
import org.codehaus.groovy.control.SourceUnit

def argList(MethodCallExpression call) {
    def a = call.arguments
    a instanceof TupleExpression ? a.expressions : [a]
}

def closureArg(MethodCallExpression call) {
    argList(call).find { it instanceof ClosureExpression }
}

def statementsOf(ClosureExpression c) {
    def code = c.code
    code instanceof BlockStatement ? code.statements : [code]
}

def namedArgs(MethodCallExpression call) {
    def out = [:]
    argList(call).findAll { it instanceof MapExpression }.each { m ->
        m.mapEntryExpressions.each { e -> out[e.keyExpression.text] = e.valueExpression }
    }
    out
}

// The root of a call chain: `ch_x.map{}.filter{}` -> `ch_x`, `P2G_A.out.b.map{}` -> `P2G_A.out.b`.
def chainRoot(Expression e) {
    while (true) {
        if (e instanceof MethodCallExpression && !e.implicitThis) { e = e.objectExpression; continue }
        if (e instanceof PropertyExpression && !(e.objectExpression instanceof PropertyExpression &&
                e.objectExpression.propertyAsString == 'out')) {
            if (e.propertyAsString == 'out') return e.text
            e = e.objectExpression; continue
        }
        return e.text
    }
}

class Collector extends CodeVisitorSupport {
    static final Set GATHERING = ['collect', 'toList', 'toSortedList', 'groupTuple', 'collectFile', 'buffer', 'collate'] as Set
    List calls = []
    List outRefs = []
    List operators = []
    Set variables = [] as Set
    def root

    // Gathering calls whose result goes straight into a `.map {}` that sorts (calls sort/toSorted).
    Set sortedAfter = Collections.newSetFromMap(new IdentityHashMap())

    static boolean sorts(Expression e) {
        def found = false
        e?.visit(new CodeVisitorSupport() {
            void visitMethodCallExpression(MethodCallExpression c) {
                if (c.methodAsString in ['sort', 'toSorted']) found = true
                super.visitMethodCallExpression(c)
            }
        })
        found
    }

    void visitMethodCallExpression(MethodCallExpression call) {
        def name = call.methodAsString
        if (name == 'map' && call.objectExpression instanceof MethodCallExpression &&
                call.objectExpression.methodAsString in GATHERING && sorts(call.arguments)) {
            sortedAfter << call.objectExpression
        }
        if (call.implicitThis && name ==~ /[A-Z][A-Z0-9_]*/) {
            def a = call.arguments
            calls << [name: name, args: a instanceof TupleExpression ? a.expressions.size() : 1, line: call.lineNumber,
                      arg_text: (a instanceof TupleExpression ? a.expressions : [a]).collect { it.text }]
        }
        if (!call.implicitThis && name in GATHERING) {
            def args = call.arguments instanceof TupleExpression ? call.arguments.expressions : [call.arguments]
            def named = [:]
            args.findAll { it instanceof MapExpression }.each { m ->
                m.mapEntryExpressions.each { e ->
                    named[e.keyExpression.text] = e.valueExpression instanceof ClosureExpression ? 'closure' : e.valueExpression.text
                }
            }
            operators << [name: name, line: call.lineNumber, n_args: args.size(),
                          closure: args.any { it instanceof ClosureExpression }, named: named,
                          receiver: root(call.objectExpression), sorted_after: call in sortedAfter]
        }
        super.visitMethodCallExpression(call)
    }
    void visitPropertyExpression(PropertyExpression p) {
        def o = p.objectExpression
        if (o instanceof PropertyExpression && o.propertyAsString == 'out' && o.objectExpression instanceof VariableExpression) {
            outRefs << [name: o.objectExpression.name, emit: p.propertyAsString, line: p.lineNumber]
        }
        super.visitPropertyExpression(p)
    }
    void visitVariableExpression(VariableExpression v) {
        variables << v.name
        super.visitVariableExpression(v)
    }
}

def sections(ClosureExpression body) {
    def current = 'directives'
    def out = [:].withDefault { [] }
    statementsOf(body).each { st ->
        if (st.statementLabels) { current = st.statementLabels[0] }
        out[current] << st
    }
    out
}

def describeProcess(String name, ClosureExpression body) {
    def secs = sections(body)
    def directives = secs['directives'].findAll { it instanceof ExpressionStatement && it.expression instanceof MethodCallExpression }
        .collect { st -> [name: st.expression.methodAsString, value: st.expression.arguments.text,
                          args: argList(st.expression).collect { exprSource(it) }] }
    def decl = { List sts -> sts.findAll { it instanceof ExpressionStatement && it.expression instanceof MethodCallExpression }.collect { it.expression } }
    def scriptText = secs['script'].collect { st -> st instanceof ReturnStatement ? st.expression : (st instanceof ExpressionStatement ? st.expression : null) }
        .findAll { it != null }.collect { exprSource(it) }
    def describeInput = { MethodCallExpression e ->
        [kind: e.methodAsString, text: e.text, stage_as: namedArgsDeep(e)['stageAs']]
    }
    [name: name, directives: directives,
     inputs: decl(secs['input']).collect { it.methodAsString },
     input_decls: decl(secs['input']).collect { describeInput(it) },
     emits: decl(secs['output']).collect { namedArgs(it)['emit']?.text },
     outputs: decl(secs['output']).collect { [text: it.text, emit: namedArgs(it)['emit']?.text] },
     has_stub: secs.containsKey('stub'), script: scriptText, sections: secs.keySet() as List]
}

// Named arguments anywhere inside a declaration such as `tuple val(x), path(y, stageAs: 'a/*')`.
def namedArgsDeep(MethodCallExpression call) {
    def out = [:]
    def v = new CodeVisitorSupport() {
        void visitMapEntryExpression(MapEntryExpression e) {
            out[e.keyExpression.text] = exprSource(e.valueExpression)
            super.visitMapEntryExpression(e)
        }
    }
    call.visit(v)
    out
}

// The literal text of a script string: plain strings and GStrings with their ${} holes.
def exprSource(Expression e) {
    if (e instanceof GStringExpression) {
        def parts = []
        e.strings.eachWithIndex { s, i ->
            parts << s.value
            if (i < e.values.size()) { parts << '${' + e.values[i].text + '}' }
        }
        return parts.join('')
    }
    if (e instanceof ConstantExpression) { return e.value.toString() }
    return e.text
}

// Dataflow of a workflow body: for each `name = expression`, the variables and `.out` emits it reads.
def assignments(ClosureExpression body) {
    def out = []
    def visitor = new CodeVisitorSupport() {
        void visitBinaryExpression(BinaryExpression b) {
            if (b.operation.text == '=' && b.leftExpression instanceof VariableExpression) {
                def c = new Collector(root: { x -> chainRoot(x) })
                b.rightExpression.visit(c)
                out << [target: b.leftExpression.name, reads: c.variables as List,
                        out_refs: c.outRefs.collect { "${it.name}.out.${it.emit}" as String }, line: b.lineNumber]
            }
            super.visitBinaryExpression(b)
        }
    }
    body.code.visit(visitor)
    out
}

def describeWorkflow(String name, ClosureExpression body) {
    def secs = sections(body)
    def c = new Collector(root: { x -> chainRoot(x) })
    body.code.visit(c)
    def takes = secs['take'].collect { it.expression.text }
    def emits = secs['emit'].collect { st ->
        def e = st.expression
        e instanceof BinaryExpression ? e.leftExpression.text : e.text
    }
    [name: name, takes: takes, emits: emits, calls: c.calls, out_refs: c.outRefs, operators: c.operators,
     assignments: assignments(body)]
}

/*
 * Strict syntax, scripts: no imports or classes, only declarations at the top level, no
 * loops/switch/++/spread/soft casts/typed `def`, no implicit `it`, `channel` not `Channel`,
 * a `script:` label in processes and no `shell:` section.
 */
def scriptViolations(module, List processes, String path) {
    def found = []
    def add = { int line, String what -> found << [line: line, what: what] }
    module.imports.each { add(it.lineNumber, "import ${it.className}") }
    module.starImports.each { add(it.lineNumber, "import ${it.packageName}*") }
    module.classes.findAll { !it.isScript() }.each { add(it.lineNumber, "class ${it.name} (move it to lib/)") }
    module.statementBlock.statements.each { st ->
        def e = st instanceof ExpressionStatement ? st.expression : null
        def ok = false
        if (e instanceof MethodCallExpression) {
            def n = e.methodAsString
            ok = n in ['process', 'workflow'] || (n == 'from' && e.objectExpression instanceof MethodCallExpression &&
                    e.objectExpression.methodAsString == 'include')
        } else if (e instanceof BinaryExpression && e.operation.text == '=') {
            ok = e.leftExpression.text.startsWith('nextflow.') || e.leftExpression.text.startsWith('params.')
        }
        if (!ok) add(st.lineNumber, "top-level statement '${st.text.take(60)}' (only includes, processes, workflows and functions)")
    }
    def closures = []
    def v = new CodeVisitorSupport() {
        void visitForLoop(ForStatement s) { add(s.lineNumber, 'for loop (use each/collect)'); super.visitForLoop(s) }
        void visitWhileLoop(WhileStatement s) { add(s.lineNumber, 'while loop'); super.visitWhileLoop(s) }
        void visitDoWhileLoop(DoWhileStatement s) { add(s.lineNumber, 'do-while loop'); super.visitDoWhileLoop(s) }
        void visitSwitch(SwitchStatement s) { add(s.lineNumber, 'switch (use if/else)'); super.visitSwitch(s) }
        void visitPostfixExpression(PostfixExpression e) { add(e.lineNumber, "${e.text} (use += / -=)"); super.visitPostfixExpression(e) }
        void visitPrefixExpression(PrefixExpression e) { add(e.lineNumber, "${e.text} (use += / -=)"); super.visitPrefixExpression(e) }
        void visitSpreadExpression(SpreadExpression e) { add(e.lineNumber, 'spread operator'); super.visitSpreadExpression(e) }
        void visitCastExpression(CastExpression e) {
            if (!e.isCoerce()) add(e.lineNumber, "soft cast ${e.text} (use `as`)")
            super.visitCastExpression(e)
        }
        void visitDeclarationExpression(DeclarationExpression e) {
            def left = e.leftExpression
            def vars = left instanceof TupleExpression ? left.expressions : [left]
            if (vars.any { it instanceof VariableExpression && !it.isDynamicTyped() }) {
                add(e.lineNumber, "typed variable declaration '${e.text.take(40)}' (use def)")
            }
            super.visitDeclarationExpression(e)
        }
        void visitClosureExpression(ClosureExpression e) {
            closures.push(e)
            super.visitClosureExpression(e)
            closures.pop()
        }
        void visitVariableExpression(VariableExpression e) {
            if (e.name == 'it' && closures && closures[-1].parameters != null && closures[-1].parameters.length == 0) {
                add(e.lineNumber, 'implicit closure parameter `it` (name it: { x -> ... })')
            }
            if (e.name == 'Channel') add(e.lineNumber, '`Channel` (use `channel`)')
            super.visitVariableExpression(e)
        }
        void visitClassExpression(ClassExpression e) {
            if (e.type.name == 'Channel') add(e.lineNumber, '`Channel` (use `channel`)')
            super.visitClassExpression(e)
        }
        void visitConstantExpression(ConstantExpression e) { super.visitConstantExpression(e) }
    }
    module.statementBlock.visit(v)
    module.methods.each { it.code?.visit(v) }
    processes.each { p ->
        if ('shell' in p.sections) found << [line: 0, what: "process ${p.name}: `shell:` section (use script:)"]
        if (p.sections.size() > 1 && !('script' in p.sections) && !('exec' in p.sections)) {
            found << [line: 0, what: "process ${p.name}: no `script:` label"]
        }
    }
    found
}

/*
 * Config files. Strict syntax accepts only assignments, blocks and includeConfig (plus `id`
 * in the plugins block); statements such as `def`, `if` or bare calls only inside closures,
 * and a value may read params and the project/launch directories, not other settings.
 */
def describeConfig(module, List lines) {
    def source = { Expression x ->
        if (x.lineNumber < 1) return exprSource(x)
        def rows = lines[(x.lineNumber - 1)..(x.lastLineNumber - 1)]
        if (rows.size() == 1) return rows[0].substring(x.columnNumber - 1, x.lastColumnNumber - 1)
        rows[0] = rows[0].substring(x.columnNumber - 1)
        rows[-1] = rows[-1].substring(0, x.lastColumnNumber - 1)
        rows.join('\n')
    }
    def info = [params: [:], profiles: [], include_config: [], selectors: [], settings: [], plugins: [], violations: []]
    def implicit = ['params', 'projectDir', 'launchDir', 'baseDir', 'outputDir', 'secrets', 'System'] as Set
    def bad = { int line, String what -> info.violations << [line: line, what: what] }
    module.methods.each { bad(it.lineNumber, "function definition ${it.name}") }
    module.imports.each { bad(it.lineNumber, "import ${it.className}") }
    def checkValue = { Expression value, int line ->
        if (value instanceof ClosureExpression) return
        def v = new CodeVisitorSupport() {
            void visitClosureExpression(ClosureExpression c) { }  // statements are allowed inside closures
            void visitVariableExpression(VariableExpression x) {
                if (!(x.name in implicit)) bad(line, "value reads '${x.name}' (only params and projectDir/launchDir may be read)")
            }
        }
        value.visit(v)
    }
    def walk
    walk = { List sts, List scope ->
        sts.each { st ->
            def e = st instanceof ExpressionStatement ? st.expression : null
            if (e instanceof BinaryExpression && e.operation.text == '=' && !(e instanceof DeclarationExpression)) {
                def left = e.leftExpression.text
                def full = (scope + [left]).join('.')
                def value = e.rightExpression
                info.settings << [scope: scope.join('.'), name: left, full: full, value: source(value),
                                  closure: value instanceof ClosureExpression, line: e.lineNumber]
                if (scope == ['params']) info.params[left] = source(value)
                else if (scope.isEmpty() && left.startsWith('params.')) info.params[left.substring(7)] = source(value)
                checkValue(value, e.lineNumber)
                return
            }
            if (e instanceof MethodCallExpression && e.implicitThis) {
                def name = e.methodAsString
                def body = closureArg(e)
                if (name == 'includeConfig' && argList(e).size() == 1) {
                    info.include_config << [file: exprSource(argList(e)[0]), scope: scope.join('.')]
                    return
                }
                if (scope == ['plugins'] && name == 'id' && argList(e).size() == 1) {
                    info.plugins << exprSource(argList(e)[0])
                    return
                }
                if (body != null && argList(e).size() == 1) {
                    def label = st.statementLabels ? st.statementLabels[0] : null
                    def part = label ? "${label}:${name}" : name
                    if (label && !(label in ['withLabel', 'withName'])) bad(e.lineNumber, "label '${label}:'")
                    if (label) info.selectors << [kind: label, pattern: name, scope: scope.join('.')]
                    if (scope == ['profiles']) info.profiles << name
                    walk(statementsOf(body), scope + [part as String])
                    return
                }
            }
            def what = e instanceof DeclarationExpression ? "variable declaration '${e.text.take(50)}'" :
                       e != null ? "statement '${e.text.take(50)}'" : "${st.class.simpleName.replace('Statement', '').toLowerCase()} statement"
            bad(st.lineNumber, what)
        }
    }
    walk(module.statementBlock.statements, [])
    info
}

def result = [:]
args.each { path ->
    def info = [processes: [], workflows: [], includes: [], functions: [], error: null, strict: []]
    def cu = new CompilationUnit()
    cu.addSource(new File(path))
    try {
        cu.compile(Phases.CONVERSION)
    } catch (Exception e) {
        info.error = e.message.readLines().findAll { it.trim() }.take(3).join(' ')
        result[path] = info
        return
    }
    def module = cu.AST.modules[0]
    if (path.endsWith('.config')) {
        info.config = describeConfig(module, new File(path).readLines())
        info.strict = info.config.violations
        result[path] = info
        return
    }
    if (path.endsWith('.groovy')) {  // lib/: full Groovy; report the classes and their static methods
        info.classes = module.classes.findAll { !it.isScript() }.collect { c ->
            [name: c.name, methods: c.methods.findAll { it.isStatic() }.collect { it.name }]
        }
        result[path] = info
        return
    }
    info.functions = module.methods.collect { [name: it.name, params: it.parameters.size()] }
    module.statementBlock.statements.each { st ->
        if (!(st instanceof ExpressionStatement) || !(st.expression instanceof MethodCallExpression)) return
        def call = st.expression
        def kind = call.methodAsString
        if (kind == 'from' && call.objectExpression instanceof MethodCallExpression && call.objectExpression.methodAsString == 'include') {
            def names = statementsOf(closureArg(call.objectExpression)).collect { s ->
                def e = s.expression
                if (e instanceof CastExpression) { return [name: e.expression.text, alias: e.type.name] }
                if (e instanceof BinaryExpression) { return [name: e.leftExpression.text, alias: e.rightExpression.text] }
                [name: e.text, alias: e.text]
            }
            info.includes << [from: call.arguments.expressions[0].value, names: names]
        } else if (kind in ['process', 'workflow']) {
            def inner = call.arguments.expressions[0]
            if (inner instanceof ClosureExpression) {
                info.workflows << describeWorkflow('', inner)
            } else if (inner instanceof MethodCallExpression) {
                def body = closureArg(inner)
                if (kind == 'process') info.processes << describeProcess(inner.methodAsString, body)
                else info.workflows << describeWorkflow(inner.methodAsString, body)
            }
        }
    }
    info.strict = scriptViolations(module, info.processes, path)
    result[path] = info
}
println JsonOutput.toJson(result)
