import threading


def work(results, index):
    total = 0
    for value in range(index + 2):
        total += value
    results.append((threading.current_thread().name, total))


def main():
    results = []
    for index in range(2):
        worker = threading.Thread(target=work, args=(results, index), name=f'sample-worker-{index}')
        worker.start()
        worker.join()
    work(results, 5)
    return results
