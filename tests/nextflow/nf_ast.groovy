/*
 * Parse Nextflow scripts and configs with the real Groovy 4 parser and print,
 * as JSON, what the pipeline tests check: syntax errors, processes with their
 * directives, inputs and emits, workflows with take/emit, includes, calls of
 * processes/workflows with their argument counts, and `.out.<emit>` uses.
 * Usage: java -cp groovy-4.x.jar groovy.ui.GroovyMain nf_ast.groovy FILE...
 */
import groovy.json.JsonOutput
import org.codehaus.groovy.ast.CodeVisitorSupport
import org.codehaus.groovy.ast.expr.*
import org.codehaus.groovy.ast.stmt.*
import org.codehaus.groovy.control.CompilationUnit
import org.codehaus.groovy.control.Phases

def argCount(MethodCallExpression call) {
    def a = call.arguments
    a instanceof TupleExpression ? a.expressions.size() : 1
}

def closureArg(MethodCallExpression call) {
    def a = call.arguments
    def list = a instanceof TupleExpression ? a.expressions : [a]
    list.find { it instanceof ClosureExpression }
}

def statementsOf(ClosureExpression c) {
    def code = c.code
    code instanceof BlockStatement ? code.statements : [code]
}

def namedArgs(MethodCallExpression call) {
    def out = [:]
    def a = call.arguments
    def list = a instanceof TupleExpression ? a.expressions : [a]
    list.findAll { it instanceof MapExpression }.each { m ->
        m.mapEntryExpressions.each { e -> out[e.keyExpression.text] = e.valueExpression.text }
    }
    out
}

class Collector extends CodeVisitorSupport {
    List calls = []
    List outRefs = []
    void visitMethodCallExpression(MethodCallExpression call) {
        if (call.implicitThis && call.methodAsString ==~ /[A-Z][A-Z0-9_]*/) {
            def a = call.arguments
            calls << [name: call.methodAsString, args: a instanceof TupleExpression ? a.expressions.size() : 1,
                      line: call.lineNumber]
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
        .collect { st -> [name: st.expression.methodAsString, value: st.expression.arguments.text] }
    def decl = { List sts -> sts.findAll { it instanceof ExpressionStatement && it.expression instanceof MethodCallExpression }.collect { it.expression } }
    def scriptText = secs['script'].collect { st -> st instanceof ReturnStatement ? st.expression : (st instanceof ExpressionStatement ? st.expression : null) }
        .findAll { it != null }.collect { exprSource(it) }
    [name: name, directives: directives,
     inputs: decl(secs['input']).collect { it.methodAsString },
     emits: decl(secs['output']).collect { namedArgs(it)['emit'] },
     has_stub: secs.containsKey('stub'), script: scriptText, sections: secs.keySet() as List]
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

def describeWorkflow(String name, ClosureExpression body) {
    def secs = sections(body)
    def c = new Collector()
    body.code.visit(c)
    def takes = secs['take'].collect { it.expression.text }
    def emits = secs['emit'].collect { st ->
        def e = st.expression
        e instanceof BinaryExpression ? e.leftExpression.text : e.text
    }
    [name: name, takes: takes, emits: emits, calls: c.calls, out_refs: c.outRefs]
}

// Config files: params set, profiles defined, files included, process selectors.
def describeConfig(module) {
    def info = [params: [], profiles: [], include_config: [], selectors: []]
    def walk
    walk = { List sts, String scope ->
        sts.each { st ->
            if (!(st instanceof ExpressionStatement)) return
            def e = st.expression
            if (e instanceof MethodCallExpression) {
                def name = e.methodAsString
                def body = closureArg(e)
                if (name == 'includeConfig') { info.include_config << e.arguments.expressions[0].text; return }
                if (st.statementLabels && st.statementLabels[0] in ['withLabel', 'withName']) {
                    info.selectors << [kind: st.statementLabels[0], pattern: name]
                }
                if (body != null) {
                    if (scope == 'profiles') info.profiles << name
                    walk(statementsOf(body), scope ? scope + '.' + name : name)
                }
            } else if (e instanceof BinaryExpression && e.operation.text == '=') {
                def left = e.leftExpression.text
                if (scope == 'params') info.params << left
                else if (scope == null && left.startsWith('params.')) info.params << left.substring(7)
            }
        }
    }
    walk(module.statementBlock.statements, null)
    info
}

def result = [:]
args.each { path ->
    def info = [processes: [], workflows: [], includes: [], functions: [], error: null]
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
        info.config = describeConfig(module)
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
    result[path] = info
}
println JsonOutput.toJson(result)
