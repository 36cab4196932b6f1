import asyncio


async def fetch(value):
    await asyncio.sleep(0)
    return value * 2


async def ticker(limit):
    for tick in range(limit):
        await asyncio.sleep(0)
        yield tick


class Resource:
    def __init__(self):
        self.log = []

    async def __aenter__(self):
        self.log.append('enter')
        return self

    async def __aexit__(self, exc_type, exc, tb):
        self.log.append('exit')
        return False


async def failing():
    await asyncio.sleep(0)
    raise KeyError('missing')


async def orchestrate():
    first = await fetch(1)
    pair = [await fetch(2), await fetch(3)]
    ticks = [tick async for tick in ticker(3)]
    async with Resource() as resource:
        resource.log.append('inside')
    try:
        await failing()
    except KeyError as exc:
        error = exc.args[0]
    return first, pair, ticks, resource.log, error


def main():
    return asyncio.run(orchestrate())
