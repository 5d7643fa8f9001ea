"""The package's layers point one way (docs/architecture.md), with no cycles, and one
method never imports another. Read from the source (every import statement, also those
inside functions), so a late import cannot hide a dependency.

The methods are the sub-packages of ``langseg/methods/``: each folder is one method (its
unit is ``methods.<folder>``), found on disk, so adding a method adds no line here."""
import ast
import os
import os.path as osp

from .conftest import REPO

PACKAGE = osp.join(REPO, 'langseg')
METHODS_DIR = osp.join(PACKAGE, 'methods')

#: The layer of each shared unit, bottom first (one line a unit, so that a branch adding
#: a unit merges cleanly). A module may import any lower layer, its own unit, and a unit
#: of its own layer only when the pair is in SAME_LAYER_ALLOWED.
LAYER_OF = {
    'version': 0,
    'registry': 0,
    'utils': 0,
    'models.layers': 1,
    'models.clip': 2,
    'models.backbones': 3,
    'models.heads': 3,
    'datasets': 3,
    'evaluation': 3,
    'converters': 3,          # the shared rule engine; each method's rules live in its folder
    'models.segmentors': 4,
    'engine': 5,
    'apis': 5,
    '__main__': 5,            # python -m langseg SCRIPT
}
#: Every method (``methods.<folder>``) and the ``methods`` package that imports them all
#: for registration share the top layer with engine/ and apis/: a method imports nothing
#: above the shared model, data and evaluation layers, and engine/ and apis/ never import a
#: method (the package root imports ``methods`` for registration).
METHODS_LAYER = 5
SAME_LAYER_ALLOWED = {
    ('apis', 'engine'),                     # the inference API loads configs like the tools
}
#: Container packages whose ``__init__`` only imports their units (skipped as importers).
CONTAINERS = ('models', 'methods')


def method_folders() -> list[str]:
    """The methods: every folder under ``langseg/methods/`` (``__pycache__`` aside)."""
    return sorted(name for name in os.listdir(METHODS_DIR)
                  if osp.isdir(osp.join(METHODS_DIR, name)) and name != '__pycache__')


def _modules(package: str = PACKAGE):
    for root, _, files in os.walk(package):
        for name in files:
            if name.endswith('.py'):
                path = osp.join(root, name)
                rel = osp.relpath(path, osp.dirname(package))[:-3].replace(os.sep, '.')
                if rel.endswith('.__init__'):
                    rel = rel[:-len('.__init__')]
                yield rel, path


def _imports(module: str, path: str) -> set[str]:
    """Absolute names of the langseg modules ``module`` imports."""
    tree = ast.parse(open(path).read())
    is_package = path.endswith('__init__.py')
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith('langseg'))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = module.split('.')
                base = parts if is_package else parts[:-1]
                base = base[:len(base) - node.level + 1]
                target = '.'.join(base + ([node.module] if node.module else []))
                names = [f'{target}.{a.name}' for a in node.names] if not node.module \
                    else [target]
                found.update(names)
            elif node.module and node.module.startswith('langseg'):
                found.add(node.module)
    return found


def _unit(module: str) -> str | None:
    """``models.<x>``, ``methods.<x>``, a top-level unit, or None for the package root."""
    rest = module.split('.')[1:]
    if not rest:
        return None
    if rest[0] in CONTAINERS and len(rest) > 1:
        return f'{rest[0]}.{rest[1]}'
    return rest[0]


def _method(unit: str | None) -> str | None:
    return unit[len('methods.'):] if unit and unit.startswith('methods.') else None


def _layer(unit: str) -> int:
    if unit == 'methods' or _method(unit) is not None:
        return METHODS_LAYER
    if unit not in LAYER_OF:
        raise AssertionError(f'{unit} is in no layer of docs/architecture.md')
    return LAYER_OF[unit]


def wrong_imports(modules) -> list[str]:
    """Every import of ``modules`` ((name, path) pairs) against the layers."""
    top = max(max(LAYER_OF.values()), METHODS_LAYER)
    wrong = []
    for module, path in modules:
        src = _unit(module)
        if src is None or src in CONTAINERS:
            continue
        for target in _imports(module, path):
            dst = _unit(target)
            if dst is None:   # the root registers everything: only the top layer may,
                if _layer(src) < top or _method(src) is not None:    # and no method
                    wrong.append(f'{module} imports the package root')
                continue
            if dst in ('models', src):
                continue
            ok = _layer(dst) < _layer(src) or (src, dst) in SAME_LAYER_ALLOWED
            if not ok:
                wrong.append(f'{module} -> {target}')
    return sorted(wrong)


def test_imports_point_down_the_layers():
    wrong = wrong_imports(_modules())
    assert not wrong, 'imports against the layers:\n' + '\n'.join(wrong)


def _method_of(module: str) -> str | None:
    """The method owning ``module`` (a ``langseg.``-less dotted name), or ``None``."""
    for method, prefixes in METHOD_MODULES.items():
        if any(module == p or module.startswith(p + '.') for p in prefixes):
            return method
    return None


def test_one_method_never_imports_another():
    wrong = []
    for module, path in _modules():
        mine = _method(_unit(module))
        if mine is None:
            continue
        for target in _imports(module, path):
            theirs = _method(_unit(target))
            if (theirs is not None and theirs != mine) or _unit(target) == 'methods':
                wrong.append(f'{module} ({mine}) -> {target}')
    assert not wrong, '\n'.join(wrong)


def test_every_method_folder_is_a_registered_package():
    """Each folder under methods/ is a package that ``langseg.methods`` imports (so
    ``import langseg`` registers it), and only the package root imports ``methods``."""
    folders = method_folders()
    assert 'proxyclip' in folders
    missing = [m for m in folders if not osp.isfile(osp.join(METHODS_DIR, m, '__init__.py'))]
    assert not missing, f'method folders without __init__.py: {missing}'
    registered = {_unit(t) for t in _imports('langseg.methods',
                                             osp.join(METHODS_DIR, '__init__.py'))}
    unregistered = [m for m in folders if f'methods.{m}' not in registered]
    assert not unregistered, f'langseg/methods/__init__.py does not import {unregistered}'
    root = _imports('langseg', osp.join(PACKAGE, '__init__.py'))
    assert 'langseg.methods' in root


def test_the_layer_check_sees_late_imports(tmp_path):
    """The parser finds an import inside a function body (so the check can fail)."""
    path = tmp_path / 'mod.py'
    path.write_text('def f():\n    from ...engine.launch import train\n')
    assert _imports('langseg.models.clip.mod', str(path)) == {'langseg.engine.launch'}


def test_the_layer_check_refuses_upward_and_sideways_imports(tmp_path):
    """A synthetic package with each forbidden arrow (and allowed ones) is judged right:
    a method importing another, the engine or the package root; the engine or a shared
    layer importing a method."""
    files = {
        'langseg/__init__.py': 'from . import methods\n',
        'langseg/methods/__init__.py': 'from . import alpha, beta\n',
        'langseg/methods/alpha/__init__.py': 'from .model import A\n',
        'langseg/methods/alpha/model.py': (
            'from ...models.segmentors.open_vocab import OpenVocabSegmentor\n'
            'from ...registry import MODELS\n'
            'def f():\n    from ..beta.model import B\n'),
        'langseg/methods/beta/model.py': 'from ...engine import hooks\nimport langseg\n',
        'langseg/engine/hooks.py': 'from ..methods.alpha import A\n',
        'langseg/models/segmentors/open_vocab.py': 'from langseg.methods import beta\n',
    }
    for rel, text in files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    assert wrong_imports(_modules(str(tmp_path / 'langseg'))) == [
        'langseg.engine.hooks -> langseg.methods.alpha',
        'langseg.methods.alpha.model -> langseg.methods.beta.model',
        'langseg.methods.beta.model -> langseg.engine',
        'langseg.methods.beta.model imports the package root',
        'langseg.models.segmentors.open_vocab -> langseg.methods',
    ]
