"""Every table, imported once so Alembic and tests see the whole schema."""

from connectorhub.assets import models as _assets  # noqa: F401
from connectorhub import changes as _changes  # noqa: F401
from connectorhub.audit import models as _audit  # noqa: F401
from connectorhub.certification import models as _certification  # noqa: F401
from connectorhub.connections import models as _connections  # noqa: F401
from connectorhub.connectors import models as _connectors  # noqa: F401
from connectorhub.db import Base
from connectorhub.directory import models as _directory  # noqa: F401
from connectorhub.environments import models as _environments  # noqa: F401
from connectorhub.runtime import models as _runtime_oauth  # noqa: F401
from connectorhub.secrets import models as _secrets  # noqa: F401
from connectorhub.security import models as _security  # noqa: F401
from connectorhub.sharing import models as _sharing  # noqa: F401
from connectorhub.solutions import models as _solutions  # noqa: F401
from connectorhub.variables import models as _variables  # noqa: F401

metadata = Base.metadata
