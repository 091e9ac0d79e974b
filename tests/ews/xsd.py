"""The EWS schema: request/response validation and the element order of item types.

Loads Microsoft's Messages.xsd/Types.xsd through the fixture corpus's driver
`ews-validate.xsd`. The corpus's lower-case `types.xsd`/`messages.xsd` (symlinks
in the original) are resolved to the real files here, so validation does not
depend on how the symlinks survived a copy.
"""

import os

from lxml import etree

XS = "{http://www.w3.org/2001/XMLSchema}"
S = "http://schemas.xmlsoap.org/soap/envelope/"
M = "http://schemas.microsoft.com/exchange/services/2006/messages"
T = "http://schemas.microsoft.com/exchange/services/2006/types"


class _CaseResolver(etree.Resolver):
    def __init__(self, schema_dir):
        super().__init__()
        self.schema_dir = schema_dir

    def resolve(self, url, pubid, context):
        name = os.path.basename(url or "")
        if name in ("types.xsd", "messages.xsd"):
            real = os.path.join(self.schema_dir, name[0].upper() + name[1:])
            return self.resolve_filename(real, context)
        return None


class Schema:
    """The compiled EWS schema and the sequence order of complex types."""

    def __init__(self, schema_dir):
        parser = etree.XMLParser()
        parser.resolvers.add(_CaseResolver(schema_dir))
        driver = etree.parse(os.path.join(schema_dir, "ews-validate.xsd"), parser)
        self.schema = etree.XMLSchema(driver)
        self.types = etree.parse(os.path.join(schema_dir, "Types.xsd"))
        self._complex = {
            el.get("name"): el for el in self.types.getroot().iter(XS + "complexType") if el.get("name")
        }
        self._order = {}

    def validate(self, doc):
        """None when `doc` (an element tree) is valid, else the first error as text."""
        if self.schema.validate(doc):
            return None
        err = self.schema.error_log.filter_from_errors()
        first = err[0] if err else self.schema.error_log.last_error
        return f"line {first.line}: {first.message}"

    def order(self, type_name):
        """Element names of complex type `type_name` (e.g. "MessageType") in
        schema sequence order, base types first."""
        if type_name in self._order:
            return self._order[type_name]
        names = []
        ct = self._complex.get(type_name)
        if ct is not None:
            ext = ct.find(f"{XS}complexContent/{XS}extension")
            if ext is not None:
                names.extend(self.order(ext.get("base").split(":")[-1]))
                scope = ext
            else:
                scope = ct
            seq = scope.find(XS + "sequence")
            if seq is not None:
                for el in seq.iter(XS + "element"):
                    name = el.get("name") or (el.get("ref") or "").split(":")[-1]
                    if name and name not in names:
                        names.append(name)
        self._order[type_name] = names
        return names
