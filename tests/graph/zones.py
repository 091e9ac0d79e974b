"""Time zones of the Graph emulator: Windows zone names (what Outlook uses in
`timeZone` and `Prefer: outlook.timezone`) and IANA names, converted with the
system's tz database."""

import datetime
import zoneinfo

from common import GraphError

# The Windows names a test is likely to meet (CLDR windowsZones, territory 001).
WINDOWS = {
    'utc': 'UTC',
    'gmt standard time': 'Europe/London',
    'greenwich standard time': 'Atlantic/Reykjavik',
    'w. europe standard time': 'Europe/Berlin',
    'central europe standard time': 'Europe/Budapest',
    'central european standard time': 'Europe/Warsaw',
    'romance standard time': 'Europe/Paris',
    'e. europe standard time': 'Europe/Chisinau',
    'fle standard time': 'Europe/Kiev',
    'russian standard time': 'Europe/Moscow',
    'eastern standard time': 'America/New_York',
    'central standard time': 'America/Chicago',
    'mountain standard time': 'America/Denver',
    'pacific standard time': 'America/Los_Angeles',
    'tokyo standard time': 'Asia/Tokyo',
    'china standard time': 'Asia/Shanghai',
    'india standard time': 'Asia/Calcutta',
    'aus eastern standard time': 'Australia/Sydney',
}


def zone(name):
    """The tz of a Windows or IANA zone name; 400 when unknown."""
    key = str(name or 'UTC').strip()
    try:
        return zoneinfo.ZoneInfo(WINDOWS.get(key.lower(), key))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise GraphError(400, 'ErrorTimeZoneNotSupported', 'the emulator does not know the time zone %r' % key)


def to_utc(naive, name):
    """A naive wall-clock time in zone `name` as a naive UTC time."""
    local = naive.replace(tzinfo=zone(name))
    return local.astimezone(datetime.timezone.utc).replace(tzinfo=None)


def from_utc(naive_utc, name):
    """A naive UTC time as a naive wall-clock time in zone `name`."""
    return naive_utc.replace(tzinfo=datetime.timezone.utc).astimezone(zone(name)).replace(tzinfo=None)
